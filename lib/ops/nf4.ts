// NF4 quantization in the bitsandbytes format: quantizeNF4 / dequantizeNF4 and the quant_state JSON.
import { addon, type NativeNF4 } from '../native/addon.js';
import { Tensor, numelOf, type DType, type Device, type TypedArray } from '../tensor.js';
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';

/** A 4-bit NF4 weight with everything bitsandbytes stores beside it. */
export interface NF4Tensor {
  kind: 'nf4';
  /** packed codes, u8 [ceil(n/2), 1]; the first element of each pair in the high nibble */
  weight: Tensor;
  /** f32 [blocks], or u8 [blocks] codes of (absmax − offset) with double quantization */
  absmax: Tensor;
  /** f32 [16] NF4 code */
  quantMap: Tensor;
  nestedAbsmax?: Tensor;
  nestedQuantMap?: Tensor;
  /** mean subtracted from absmax before double quantization */
  offset?: number;
  blocksize: number;
  nestedBlocksize?: number;
  /** logical shape of the original weight, e.g. [out, in] */
  shape: number[];
  /** dtype of the original weight (what dequantization restores by default) */
  dtype: 'f32' | 'f16' | 'bf16';
  /** the `quant_state.bitsandbytes__nf4` JSON bitsandbytes writes next to the weight */
  quantState: string;
}

export interface QuantizeOptions {
  blocksize?: number;
  doubleQuant?: boolean;
}

const TORCH_DTYPE = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' } as const;

/** Python's repr() of a float, so JSON written here matches json.dumps byte for byte. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = x.toExponential().split('e');
  const exp = Number(expStr);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let s: string;
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    s = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  } else if (exp < 0) {
    s = `0.${'0'.repeat(-exp - 1)}${digits}`;
  } else if (digits.length > exp + 1) {
    s = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  } else {
    s = `${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
  }
  return neg ? `-${s}` : s;
}

export function quantStateJSON(
  q: Pick<NF4Tensor, 'blocksize' | 'dtype' | 'shape' | 'offset' | 'nestedBlocksize'>,
  doubleQuant: boolean,
): string {
  const parts = [
    `"quant_type": "nf4"`,
    `"blocksize": ${q.blocksize}`,
    `"dtype": "${TORCH_DTYPE[q.dtype]}"`,
    `"shape": [${q.shape.join(', ')}]`,
  ];
  if (doubleQuant)
    parts.push(
      `"nested_blocksize": ${q.nestedBlocksize ?? 256}`,
      `"nested_offset": ${pyFloatRepr(q.offset ?? 0)}`,
      `"nested_dtype": "float32"`,
    );
  return `{${parts.join(', ')}}`;
}

/**
 * Quantizes `data` (a tensor or array of f32/f16/bf16 values) to NF4 exactly as bitsandbytes'
 * quantize_4bit does: blockwise absmax, nearest NF4 code, optional double quantization of absmax.
 */
export function quantizeNF4(data: Tensor | TypedArray | number[], shape?: readonly number[], opts: QuantizeOptions = {}): NF4Tensor {
  const blocksize = opts.blocksize ?? 64;
  const doubleQuant = opts.doubleQuant ?? false;
  if (!Number.isInteger(blocksize) || blocksize < 32 || blocksize > 4096 || blocksize & (blocksize - 1))
    throw new ArgumentError(`quantizeNF4: blocksize must be a power of two in 32…4096, got ${blocksize}`);
  const owned = !(data instanceof Tensor);
  const x = data instanceof Tensor ? data : Tensor.from(data, shape);
  const logical = [...(shape ?? x.shape)];
  if (numelOf(logical) !== x.numel) throw new ShapeError(`quantizeNF4: shape [${logical.join(',')}] does not match ${x.numel} values`);
  if (x.dtype !== 'f32' && x.dtype !== 'f16' && x.dtype !== 'bf16')
    throw new DTypeError(`quantizeNF4: data must be f32, f16 or bf16, got ${x.dtype}`);
  // f32 on CUDA quantizes on the device; other dtypes there go through the CPU (and come back)
  const input = x.device === 'cpu' || x.dtype === 'f32' ? x : x.to('cpu');
  const r = addon.nf4_quantize(input.handle, blocksize, doubleQuant);
  if (input !== x) input.dispose();
  const dtype = x.dtype as NF4Tensor['dtype'];
  if (owned) x.dispose();
  const q: NF4Tensor = {
    kind: 'nf4',
    weight: new Tensor(r.packed),
    absmax: new Tensor(r.absmax),
    quantMap: new Tensor(r.code),
    blocksize,
    shape: logical,
    dtype,
    quantState: '',
  };
  if (doubleQuant) {
    q.nestedAbsmax = new Tensor(r.nestedAbsmax!);
    q.nestedQuantMap = new Tensor(r.nestedCode!);
    q.offset = r.offset!;
    q.nestedBlocksize = 256;
  }
  q.quantState = quantStateJSON(q, doubleQuant);
  if (x.device !== 'cpu' && q.weight.device === 'cpu') {
    const moved = nf4To(q, x.device);
    disposeNF4(q);
    return moved;
  }
  return q;
}

/** The NF4 weight as the native kernels take it. */
export function nativeNF4(q: NF4Tensor): NativeNF4 & { rows: number; cols: number } {
  const cols = q.shape.length ? q.shape[q.shape.length - 1] : 1;
  const numel = numelOf(q.shape);
  return {
    packed: q.weight.handle,
    absmax: q.absmax.handle,
    code: q.quantMap.handle,
    nestedAbsmax: q.nestedAbsmax?.handle,
    nestedCode: q.nestedQuantMap?.handle,
    offset: q.offset ?? 0,
    blocksize: q.blocksize,
    nestedBlocksize: q.nestedBlocksize ?? 256,
    numel,
    rows: cols ? numel / cols : 0,
    cols,
  };
}

/** Dequantizes to a new tensor (default: the original dtype) on the weight's device. */
export function dequantizeNF4(q: NF4Tensor, opts: { dtype?: DType } = {}): Tensor {
  const dtype = opts.dtype ?? q.dtype;
  const out = Tensor.empty(q.shape, dtype, q.weight.device);
  addon.nf4_dequantize(nativeNF4(q), out.handle);
  return out;
}

/** Moves every part of an NF4 weight to `device` (new tensors; the source stays). */
export function nf4To(q: NF4Tensor, device: Device): NF4Tensor {
  return {
    ...q,
    weight: q.weight.to(device),
    absmax: q.absmax.to(device),
    quantMap: q.quantMap.to(device),
    nestedAbsmax: q.nestedAbsmax?.to(device),
    nestedQuantMap: q.nestedQuantMap?.to(device),
  };
}

export function disposeNF4(q: NF4Tensor): void {
  for (const t of [q.weight, q.absmax, q.quantMap, q.nestedAbsmax, q.nestedQuantMap]) t?.dispose();
}

export function isNF4(w: unknown): w is NF4Tensor {
  return typeof w === 'object' && w !== null && (w as NF4Tensor).kind === 'nf4';
}
