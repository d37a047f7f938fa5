// The whole native surface, typed in one place. Everything in lib/ reaches C++ through `addon`.
// Arguments follow the C++ bindings in native/binding/*.cc; outputs are preallocated by lib/ops.
import { loadAddon } from './loader.js';
import { typedErrors } from '../errors.js';

/** dtype codes shared with native/include/plf/common.h */
export const DTYPE_CODE = { f32: 0, f16: 1, bf16: 2, u8: 3, i32: 4, i64: 5 } as const;
export const DEVICE_CODE = { cpu: 0, cuda: 1 } as const;

export interface NativeTensor {
  readonly dtype: number;
  readonly shape: number[];
  readonly device: number;
  readonly disposed: boolean;
  dispose(): void;
  /** the array's bytes into the tensor; with byteOffset, into bytes [byteOffset, byteOffset + a.byteLength) */
  copyFromArray(a: ArrayBufferView, byteOffset?: number): void;
  copyToArray(a: ArrayBufferView): void;
  copyFrom(src: NativeTensor): void;
  /** every element (a view: its range) set to 0 */
  zero(): void;
  view(shape: number[], elementOffset?: number): NativeTensor;
  to(device: number): NativeTensor;
  sharesStorage(other: NativeTensor): boolean;
}
export interface NativeTensorCtor {
  new (dtype: number, shape: number[], device: number, zero: boolean): NativeTensor;
}

/** An NF4 weight as the kernels read it (see NF4View in native/include/plf/nf4.h). */
export interface NativeNF4 {
  packed: NativeTensor;
  absmax: NativeTensor;            // f32 per block, or u8 codes with double quant
  code: NativeTensor;              // f32 [16]
  nestedAbsmax?: NativeTensor;     // f32, double quant
  nestedCode?: NativeTensor;       // f32 [256], double quant
  offset?: number;
  blocksize: number;
  nestedBlocksize?: number;
  numel: number;
  rows?: number;
  cols?: number;
}
export type NativeWeight = NativeTensor | (NativeNF4 & { rows: number; cols: number });
type T = NativeTensor;
type Opt = NativeTensor | null;

export interface AdamWItem { param: T; master: Opt; grad: T; m: T; v: T }
export interface AdamWConfig {
  lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number;
  step: number; gradScale?: number; maxGradNorm?: number; skipNonFinite?: boolean;
}

export interface BuildInfo {
  cuda: boolean; cudaArchs: string; cudaBuild: string; openmp: boolean; threads: number; simd: string;
  napiVersion: number;
}
export interface CudaInfo {
  compiled: boolean; usable: boolean; reason: string; name: string; computeCapability: string; count: number;
  totalMemory: number; freeMemory: number; driverVersion: number; runtimeVersion: number;
  /** the optional cuBLASLt, opened at run time for the bf16 matmuls */
  cublasLt: { loaded: boolean; enabled: boolean; library: string; version: number; reason: string };
}
export interface MemoryCounters { live: number; peak: number; allocations: number }

export interface Addon {
  NativeTensor: NativeTensorCtor;
  nf4_quantize(x: T, blocksize: number, doubleQuant: boolean): Omit<NativeNF4, 'blocksize' | 'numel'>;
  nf4_dequantize(w: NativeNF4, out: T): void;
  /** accumulate: y += x·Wᵀ + bias */
  linear_forward(x: T, w: NativeWeight, bias: Opt, y: T, accumulate?: boolean): void;
  linear_backward(dy: T, x: T, w: NativeWeight, dx: Opt, dw: Opt, dbias: Opt, accumulate: boolean): void;
  /** (weight, bias | null, y, A | null, B | null, scale) × 2 or 3 after x and accumulate: CUDA, one row, NF4 only */
  nf4_gemv_multi(x: T, accumulate: boolean, ...groups: (NativeWeight | Opt | number)[]): void;
  /** optionally (A | null, B | null, scale) for the gate, then for up */
  nf4_gemv_swiglu(x: T, wGate: NativeWeight, wUp: NativeWeight, h: T, ...loras: (Opt | number)[]): void;
  lora_linear_forward(x: T, w: NativeWeight, bias: Opt, a: T, b: T, scale: number, dropout: number, seed: number,
    y: T, xa: T, accumulate?: boolean): void;
  lora_linear_backward(dy: T, x: T, w: NativeWeight, a: T, b: T, scale: number, dropout: number, seed: number,
    xa: T, dx: Opt, da: Opt, db: Opt, accumulate: boolean): void;
  adamw_step(items: AdamWItem[], config: AdamWConfig): { gradNorm: number; skipped: boolean };
  embedding_forward(ids: T, table: T, out: T): void;
  embedding_backward(ids: T, dout: T, dtable: T): void;
  rmsnorm_forward(x: T, w: T, eps: number, y: T, rstd: T): void;
  rmsnorm_backward(dy: T, x: T, w: T, rstd: T, dx: Opt, dw: Opt, accumulate: boolean): void;
  layernorm_forward(x: T, w: T, b: Opt, eps: number, y: T, mean: T, rstd: T): void;
  layernorm_backward(dy: T, x: T, w: T, mean: T, rstd: T, dx: Opt, dw: Opt, db: Opt, accumulate: boolean): void;
  /** x2/y2: a second tensor [B, T, H2, D] (k beside q) rotated in the same launch */
  rope_forward(x: T, positions: T, rotaryDim: number, theta: number, y: T, x2?: T, y2?: T): void;
  rope_backward(dy: T, positions: T, rotaryDim: number, theta: number, dx: T, dy2?: T, dx2?: T): void;
  /** causal defaults to true; bias [Hq,Tq,Tk] is added to the scaled scores */
  attention_forward(q: T, k: T, v: T, mask: Opt, scale: number, window: number, out: T, lse: T, kvLen?: number,
    causal?: boolean, bias?: Opt): void;
  attention_backward(dout: T, q: T, k: T, v: T, out: T, lse: T, mask: Opt, scale: number, window: number,
    dq: T, dk: T, dv: T, causal?: boolean, bias?: Opt): void;
  swiglu_forward(gate: T, up: T, y: T): void;
  swiglu_backward(dy: T, gate: T, up: T, dgate: Opt, dup: Opt): void;
  gelu_forward(x: T, approximate: 'none' | 'tanh', y: T): void;
  gelu_backward(dy: T, x: T, approximate: 'none' | 'tanh', dx: T): void;
  geglu_forward(gate: T, up: T, approximate: 'none' | 'tanh', y: T): void;
  geglu_backward(dy: T, gate: T, up: T, approximate: 'none' | 'tanh', dgate: Opt, dup: Opt): void;
  relu_forward(x: T, y: T): void;
  relu_backward(dy: T, x: T, dx: T): void;
  tanh_forward(x: T, y: T): void;
  /** from the output y */
  tanh_backward(dy: T, y: T, dx: T): void;
  scale_forward(x: T, alpha: number, y: T): void;
  set_matmul_precision(p: 'highest' | 'bf16' | 'f16'): void;
  use_cublaslt(on: boolean): boolean;
  matmul_precision(): 'highest' | 'bf16' | 'f16';
  add_forward(a: T, b: T, y: T): void;
  cross_entropy_forward(logits: T, targets: T, ignoreIndex: number): { loss: number; count: number };
  cross_entropy_backward(logits: T, targets: T, ignoreIndex: number, dloss: number, dlogits: T): void;
  bce_logits_forward(logits: T, labels: T): number;
  bce_logits_backward(logits: T, labels: T, dloss: number, dlogits: T): void;
  argmax_rows(x: T, out: T): void;
  last_token_index(ids: T, padId: number, out: T): void;
  gather_rows_forward(x: T, index: T, y: T): void;
  gather_rows_backward(dy: T, index: T, dx: T): void;
  slice_cols_forward(x: T, start: number, y: T): void;
  slice_cols_backward(dy: T, start: number, dx: T): void;
  cache_write(k: T, v: T, at: T, kc: T, vc: T): void;
  convert(src: T, dst: T): void;
  fma_peak(): number;
  build_info(): BuildInfo;
  cuda_info(): CudaInfo;
  /** cuda also reports what the caching allocator holds from cudaMalloc (in use or cached): reserved, reservedPeak */
  memory(): { cpu: MemoryCounters; cuda: MemoryCounters & { reserved: number; reservedPeak: number } };
  set_threads(n: number): void;
  reset_peak(): void;
  empty_cache(): void;
  /** times every op's kernel (device synchronized around each) until profile_stop */
  profile_start(): void;
  profile_stop(): Record<string, { calls: number; ms: number; stagedBytes: number; mixed: number }>;
  synchronize(): void;
  /** CUDA graphs of plf's stream (native/include/plf/graph.h) */
  graph_begin(): void;
  graph_end(): GraphHandle;
  graph_abort(): void;
  graph_replay(g: GraphHandle): void;
  graph_destroy(g: GraphHandle): void;
  graph_nodes(g: GraphHandle): number;
}
/** A recorded CUDA graph (an External; destroyed by graph_destroy or the garbage collector). */
export type GraphHandle = { readonly __graph: unique symbol };

let loaded: Addon | null = null;
/** The addon, loaded on first use (importing the package never fails); a failed load is an
 * AddonLoadError that says how to fix it, raised by the first call that needs native code. */
function native(): Addon {
  return (loaded ??= typedErrors(loadAddon() as Addon));
}
export const addon: Addon = new Proxy({} as Addon, {
  get: (_t, k) => (native() as unknown as Record<string | symbol, unknown>)[k],
  has: (_t, k) => k in native(),
  ownKeys: () => Reflect.ownKeys(native()),
  getOwnPropertyDescriptor: (_t, k) => Object.getOwnPropertyDescriptor(native(), k),
});
