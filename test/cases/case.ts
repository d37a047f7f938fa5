// The op case table (in the manner of ggml's test-backend-ops): each family file in test/cases/
// declares its ops' cases once — inputs, the op, a float64 reference, tolerances — and one runner
// (test/cases.test.ts) checks them on the CPU against the reference and finite differences, and on
// every other available backend against the CPU; bench/ops.bench.ts times the same cases.
import { Tensor, type DType, type Device } from '../../lib/ops/index.js';
import { Rng } from '../../lib/util/random.js';

/** A host array for one input: f32 data (or ids), its shape and the dtype it becomes. */
export interface Host {
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
  shape: number[];
}
export type Inputs = Record<string, Host>;
export type Tensors = Record<string, Tensor>;

export interface OpCase {
  /** the op family (the file's name) and the op */
  family: string;
  op: string;
  /** shapes and options, for messages and the bench table */
  name: string;
  /** seeded inputs */
  inputs(): Inputs;
  /** the op with the lib/ops wrappers on tensors of one device: its outputs by name */
  forward(t: Tensors): Tensors;
  /** float64 reference of (some of) the outputs */
  reference?(x: Inputs): Record<string, ArrayLike<number>>;
  /** max |ours − reference| / max |reference| on the CPU (default 1e-5) */
  tol?: number;
  /** gradients: backward(inputs, outputs, dy) → gradients by input name, checked by finite differences
   * of Σ reference[output] ⊙ dy, and across backends */
  backward?(t: Tensors, out: Tensors, dy: Tensor): Tensors;
  grad?: { output: string; wrt: string[]; tol?: number };
  /** another backend against the CPU (default 1e-4; looser where tensor cores or atomics differ) */
  backendTol?: number;
  /** 16-bit activation dtypes also compared across backends (inputs rounded on both sides) */
  dtypes?: ('bf16' | 'f16')[];
  /** inputs that stay f32 when the activations are 16-bit (weights, norms' gains) */
  keepF32?: string[];
}

export function toTensors(x: Inputs, device: Device, dtype: DType = 'f32', keepF32: string[] = []): Tensors {
  const out: Tensors = {};
  for (const [k, h] of Object.entries(x)) {
    const float = h.data instanceof Float32Array;
    const t = Tensor.from(h.data, h.shape, float && dtype !== 'f32' && !keepF32.includes(k) ? { dtype } : {});
    out[k] = device === 'cpu' ? t : t.moveTo(device);
  }
  return out;
}

export function disposeAll(...ts: Tensors[]): void {
  for (const t of ts) for (const v of Object.values(t)) if (!v.handle.disposed) v.dispose();
}

/** max |a − b| / max |b| (0 when both are all zero) */
export function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0,
    m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(Number(a[i]) - Number(b[i])));
    m = Math.max(m, Math.abs(Number(b[i])));
  }
  if (a.length !== b.length) return Infinity;
  return m === 0 ? d : d / m;
}

/** values of a tensor as numbers (f32/f16/bf16 widened, ids as numbers) */
export function values(t: Tensor): ArrayLike<number> {
  return t.dtype === 'i64'
    ? Array.from(t.toArray() as BigInt64Array, Number)
    : t.dtype === 'i32' || t.dtype === 'u8'
      ? (t.toArray() as Int32Array)
      : t.toFloat32();
}

// seeded inputs (each case file draws from its own stream, so adding a case elsewhere changes nothing)
export class Draw {
  private rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  next(): number {
    return this.rng.next();
  }
  randn(n: number, scale = 1): Float32Array {
    return Float32Array.from({ length: n }, () => this.rng.normal() * scale);
  }
  ids(n: number, hi: number): BigInt64Array {
    return BigInt64Array.from({ length: n }, () => BigInt(Math.floor(this.rng.next() * hi)));
  }
}
export const f32 = (x: Host) => x.data as Float32Array;
export const host = (data: Host['data'], shape: number[]): Host => ({ data, shape });
