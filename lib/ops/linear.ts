// linear and lora_linear: y = x·Wᵀ (+ bias) [+ s·dropout(x)·Aᵀ·Bᵀ], W in f32/bf16/f16/NF4.
import { addon, type NativeWeight } from '../native/addon.js';
import { Tensor } from '../tensor.js';
import { ArgumentError } from '../errors.js';
import { isNF4, nativeNF4, type NF4Tensor } from './nf4.js';

export type Weight = Tensor | NF4Tensor;

export function nativeWeight(w: Weight): NativeWeight {
  return isNF4(w) ? nativeNF4(w) : w.handle;
}

function outFeatures(w: Weight): number {
  return w.shape[0];
}

function outShape(x: Tensor, n: number): number[] {
  return [...x.shape.slice(0, -1), n];
}

/**
 * y [.., N] = x [.., K] · Wᵀ (+ bias [N]); with `into`, into += x·Wᵀ + bias and `into` is returned (a
 * residual joined in the matmul's epilogue: no separate add, no output allocated).
 */
export function linearForward(x: Tensor, w: Weight, bias: Tensor | null = null, into?: Tensor): Tensor {
  const y = into ?? Tensor.empty(outShape(x, outFeatures(w)), x.dtype, x.device);
  addon.linear_forward(x.handle, nativeWeight(w), bias?.handle ?? null, y.handle, !!into);
  return y;
}

/** The most rows of x the fused decoding GEMVs take (a batch of sequences, one position each). */
const GEMV_ROWS = 8;

/** 1 to 8 rows on CUDA through NF4 weights: where the decoding GEMV kernels may apply (their alignment and blocksize conditions the binding checks). */
function fewNF4Rows(x: Tensor, ws: Weight[]): boolean {
  const K = x.shape[x.shape.length - 1] ?? 0;
  return x.device === 'cuda' && K > 0 && x.numel > 0 && x.numel <= GEMV_ROWS * K && ws.every((w) => isNF4(w));
}

/** Runs a fused decoding kernel into `outs`; null (outs freed) when the binding refuses it on the GEMV's conditions. */
function fusedOrNull(outs: Tensor[], run: () => void): Tensor[] | null {
  try {
    run();
    return outs;
  } catch (e) {
    outs.forEach((t) => t.dispose());
    if (e instanceof ArgumentError) return null;
    throw e;
  }
}

/** An inference adapter a fused decoding GEMV can take in its epilogue: no dropout, f32 A and B. */
function gemvLora(l: LoraParams | null | undefined): boolean {
  return !l || (!l.dropout && l.A.dtype === 'f32' && l.B.dtype === 'f32');
}
/** (A, B, scale) arguments of the fused GEMVs: nulls for none */
function loraArgs(l: LoraParams | null | undefined): (Tensor['handle'] | null | number)[] {
  return l ? [l.A.handle, l.B.handle, l.scale] : [null, null, 0];
}

/** One linear of an inference forward: x·Wᵀ + bias (+ its LoRA adapter, without dropout). */
export interface InferenceLinear {
  weight: Weight;
  bias: Tensor | null;
  lora?: LoraParams | null;
}

function inferenceForward(x: Tensor, l: InferenceLinear): Tensor {
  if (!l.lora) return linearForward(x, l.weight, l.bias);
  const { y, xa } = loraLinearForward(x, l.weight, l.bias, { ...l.lora, dropout: 0, seed: 0 });
  xa.dispose();
  return y;
}

/**
 * Several linears of one input (q/k/v, gate/up) in inference: at decoding on CUDA (1 to 8 rows,
 * NF4 weights) one launch for all, LoRA adapters included, else one forward each — the same values
 * either way.
 */
export function linearForwardMany(x: Tensor, ws: InferenceLinear[]): Tensor[] {
  const fusable =
    ws.length >= 2 &&
    ws.length <= 3 &&
    fewNF4Rows(
      x,
      ws.map((w) => w.weight),
    ) &&
    ws.every((w) => (!w.bias || w.bias.dtype === 'f32') && gemvLora(w.lora));
  const outs = fusable ? ws.map((w) => Tensor.empty(outShape(x, outFeatures(w.weight)), x.dtype, x.device)) : [];
  const ys = fusable
    ? fusedOrNull(outs, () =>
        addon.nf4_gemv_multi(
          x.handle,
          false,
          ...ws.flatMap((w, i) => [nativeWeight(w.weight), w.bias?.handle ?? null, outs[i].handle, ...loraArgs(w.lora)]),
        ),
      )
    : null;
  return ys ?? ws.map((w) => inferenceForward(x, w));
}

/**
 * SwiGLU's MLP input at decoding: silu(x·Wgᵀ (+ LoRA))·(x·Wuᵀ (+ LoRA)) in one launch on CUDA (1
 * to 8 rows, NF4 weights without bias), bit for bit the two linears and swigluForward apart; null where it
 * does not apply (the caller then runs them apart).
 */
export function gateUpSwiglu(x: Tensor, gate: Weight, up: Weight, loraGate?: LoraParams | null, loraUp?: LoraParams | null): Tensor | null {
  if (!fewNF4Rows(x, [gate, up]) || !gemvLora(loraGate) || !gemvLora(loraUp)) return null;
  const h = Tensor.empty(outShape(x, outFeatures(gate)), x.dtype, x.device);
  const loras = loraGate || loraUp ? [...loraArgs(loraGate), ...loraArgs(loraUp)] : [];
  return fusedOrNull([h], () => addon.nf4_gemv_swiglu(x.handle, nativeWeight(gate), nativeWeight(up), h.handle, ...loras))?.[0] ?? null;
}

export interface LinearBackwardOptions {
  /** compute dx (default true) */
  dx?: boolean;
  /** compute dW (f32 weights only): true allocates, a tensor receives it */
  dw?: boolean | Tensor;
  dbias?: boolean | Tensor;
  /** add into the given dw/dbias instead of overwriting */
  accumulate?: boolean;
}

function target(spec: boolean | Tensor | undefined, shape: readonly number[], device: Tensor['device']): Tensor | null {
  if (spec instanceof Tensor) return spec;
  return spec ? Tensor.zeros(shape, 'f32', device) : null;
}

export function linearBackward(dy: Tensor, x: Tensor, w: Weight, opts: LinearBackwardOptions = {}) {
  const dx = opts.dx === false ? null : Tensor.empty(x.shape, x.dtype, x.device);
  const dw = target(opts.dw, w.shape, x.device);
  const dbias = target(opts.dbias, [outFeatures(w)], x.device);
  addon.linear_backward(
    dy.handle,
    x.handle,
    nativeWeight(w),
    dx?.handle ?? null,
    dw?.handle ?? null,
    dbias?.handle ?? null,
    opts.accumulate ?? false,
  );
  return { dx, dw, dbias };
}

/** LoRA adapter of one linear layer: A [r, K], B [N, r], scale = alpha / r (or alpha / √r). */
export interface LoraParams {
  A: Tensor;
  B: Tensor;
  scale: number;
  dropout?: number;
  /** dropout mask seed: the same seed in forward and backward gives the same mask */
  seed?: number;
}

/**
 * y = x·Wᵀ + bias + scale·(dropout(x)·Aᵀ)·Bᵀ; xa = dropout(x)·Aᵀ is kept for backward. With `into`,
 * that sum is added into `into` (returned as y).
 */
export function loraLinearForward(x: Tensor, w: Weight, bias: Tensor | null, lora: LoraParams, into?: Tensor) {
  const r = lora.A.shape[0];
  const y = into ?? Tensor.empty(outShape(x, outFeatures(w)), x.dtype, x.device);
  const xa = Tensor.empty(outShape(x, r), 'f32', x.device);
  addon.lora_linear_forward(
    x.handle,
    nativeWeight(w),
    bias?.handle ?? null,
    lora.A.handle,
    lora.B.handle,
    lora.scale,
    lora.dropout ?? 0,
    lora.seed ?? 0,
    y.handle,
    xa.handle,
    !!into,
  );
  return { y, xa };
}

export interface LoraBackwardOptions {
  dx?: boolean;
  dA?: Tensor;
  dB?: Tensor;
  accumulate?: boolean;
}

export function loraLinearBackward(dy: Tensor, x: Tensor, w: Weight, lora: LoraParams, xa: Tensor, opts: LoraBackwardOptions = {}) {
  const dx = opts.dx === false ? null : Tensor.empty(x.shape, x.dtype, x.device);
  const dA = opts.dA ?? Tensor.zeros(lora.A.shape, 'f32', x.device);
  const dB = opts.dB ?? Tensor.zeros(lora.B.shape, 'f32', x.device);
  addon.lora_linear_backward(
    dy.handle,
    x.handle,
    nativeWeight(w),
    lora.A.handle,
    lora.B.handle,
    lora.scale,
    lora.dropout ?? 0,
    lora.seed ?? 0,
    xa.handle,
    dx?.handle ?? null,
    dA.handle,
    dB.handle,
    opts.accumulate ?? false,
  );
  return { dx, dA, dB };
}

export type MatmulPrecision = 'highest' | 'bf16' | 'f16';

/**
 * Operand precision of the CUDA matmuls (linear and LoRA): 'highest' (default) computes in f32 and
 * matches the CPU to ~1e-6; 'bf16' rounds operands to bf16 for the tensor cores (f32 accumulation,
 * ~1e-2 relative), as torch.set_float32_matmul_precision('medium'); 'f16' rounds them to f16 (3 more
 * mantissa bits, ~2e-3 relative; operands beyond ±65504 overflow). The CPU always computes in f32.
 */
export function setMatmulPrecision(p: MatmulPrecision): void {
  addon.set_matmul_precision(p);
}
export function getMatmulPrecision(): MatmulPrecision {
  return addon.matmul_precision();
}

/**
 * With matmul precision 'bf16', x·Wᵀ and dy·W run on cuBLASLt when the machine has it (found at run
 * time, never required; W is first dequantized/converted to bf16), else on our own tensor-core
 * kernel. Returns whether cuBLASLt is now used; PLF_CUBLASLT=0 keeps it closed, PLF_CUBLASLT=/path
 * names the library.
 */
export function useCublasLt(on: boolean): boolean {
  return addon.use_cublaslt(on);
}
