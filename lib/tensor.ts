// Tensor: a handle to addon-owned memory (host or CUDA) with a dtype and a shape.
// Memory is released by dispose() or, as a safety net, when the handle is garbage collected.
import { addon, DTYPE_CODE, DEVICE_CODE, type NativeTensor } from './native/addon.js';
import { ArgumentError, DTypeError, ShapeError, rethrowNative } from './errors.js';

export type DType = keyof typeof DTYPE_CODE;
export type Device = keyof typeof DEVICE_CODE;
export type TypedArray = Float32Array | Uint16Array | Uint8Array | Int32Array | BigInt64Array;

const DTYPES = Object.keys(DTYPE_CODE) as DType[];
const DEVICES = Object.keys(DEVICE_CODE) as Device[];
export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, bf16: 2, u8: 1, i32: 4, i64: 8 };

function arrayFor(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(n);
    case 'f16':
    case 'bf16':
      return new Uint16Array(n);
    case 'u8':
      return new Uint8Array(n);
    case 'i32':
      return new Int32Array(n);
    case 'i64':
      return new BigInt64Array(n);
  }
}

function dtypeOfArray(a: TypedArray): DType | undefined {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Uint8Array) return 'u8';
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof BigInt64Array) return 'i64';
  return undefined; // Uint16Array: f16 or bf16, must be named
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkShape(shape: readonly number[], who: string): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0))
    throw new ShapeError(`${who}: shape must be non-negative integers, got ${JSON.stringify(shape)}`);
  return [...shape];
}

export class Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly device: Device;

  constructor(readonly handle: NativeTensor) {
    this.dtype = DTYPES[handle.dtype];
    this.shape = Object.freeze(handle.shape);
    this.device = DEVICES[handle.device];
  }

  static empty(shape: readonly number[], dtype: DType = 'f32', device: Device = 'cpu'): Tensor {
    return Tensor.alloc(shape, dtype, device, false);
  }

  static zeros(shape: readonly number[], dtype: DType = 'f32', device: Device = 'cpu'): Tensor {
    return Tensor.alloc(shape, dtype, device, true);
  }

  private static alloc(shape: readonly number[], dtype: DType, device: Device, zero: boolean): Tensor {
    if (!(dtype in DTYPE_CODE)) throw new DTypeError(`Tensor: unknown dtype '${dtype}' (use ${DTYPES.join(', ')})`);
    if (!(device in DEVICE_CODE)) throw new ArgumentError(`Tensor: unknown device '${device}' (use cpu or cuda)`);
    try {
      return new Tensor(new addon.NativeTensor(DTYPE_CODE[dtype], checkShape(shape, 'Tensor'), DEVICE_CODE[device], zero));
    } catch (e) {
      rethrowNative(e);
    }
  }

  /**
   * A tensor holding a copy of `data`. The dtype follows the array (Float32Array → f32, …) unless given;
   * numbers or a Float32Array with dtype f16/bf16 are rounded (nearest even).
   */
  static from(data: TypedArray | number[], shape?: readonly number[], opts: { dtype?: DType; device?: Device } = {}): Tensor {
    const device = opts.device ?? 'cpu';
    const arr: TypedArray = Array.isArray(data) ? Float32Array.from(data) : data;
    const s = shape ?? [arr.length];
    if (numelOf(s) !== arr.length) throw new ShapeError(`Tensor.from: ${arr.length} values do not fill shape [${s.join(',')}]`);
    const own = dtypeOfArray(arr);
    const dtype = opts.dtype ?? own;
    if (!dtype) throw new DTypeError('Tensor.from: a Uint16Array needs dtype f16 or bf16');
    if (own === 'f32' && (dtype === 'f16' || dtype === 'bf16')) {
      const tmp = Tensor.from(arr, s);
      const out = Tensor.empty(s, dtype, 'cpu');
      addon.convert(tmp.handle, out.handle);
      tmp.dispose();
      return device === 'cpu' ? out : out.moveTo(device);
    }
    if (own !== undefined && own !== dtype) throw new DTypeError(`Tensor.from: a ${arr.constructor.name} cannot hold dtype ${dtype}`);
    const t = Tensor.empty(s, dtype, device);
    try {
      t.handle.copyFromArray(arr);
    } catch (e) {
      rethrowNative(e);
    }
    return t;
  }

  /**
   * Overwrites this tensor's values with `data` (same element count, the dtype's array type; f16/bf16
   * as raw Uint16Array bits): on CUDA an upload queued behind earlier ops, e.g. a recorded decode
   * step's inputs before its replay.
   */
  write(data: TypedArray): this {
    if (data.length !== this.numel) throw new ShapeError(`Tensor.write: ${data.length} values for a tensor of [${this.shape.join(',')}]`);
    const own = dtypeOfArray(data);
    if (own ? own !== this.dtype : this.dtype !== 'f16' && this.dtype !== 'bf16')
      throw new DTypeError(`Tensor.write: a ${data.constructor.name} cannot hold dtype ${this.dtype}`);
    try {
      this.handle.copyFromArray(data);
    } catch (e) {
      rethrowNative(e);
    }
    return this;
  }

  get numel(): number {
    return numelOf(this.shape);
  }
  get nbytes(): number {
    return this.numel * DTYPE_BYTES[this.dtype];
  }
  get disposed(): boolean {
    return this.handle.disposed;
  }

  /** A host copy in the natural TypedArray of the dtype (f16/bf16 as raw Uint16Array bits). */
  toArray(): TypedArray {
    const a = arrayFor(this.dtype, this.numel);
    try {
      this.handle.copyToArray(a);
    } catch (e) {
      rethrowNative(e);
    }
    return a;
  }

  /** A host copy as f32 values (f16/bf16 widened exactly). */
  toFloat32(): Float32Array {
    if (this.dtype === 'f32') return this.toArray() as Float32Array;
    if (this.dtype === 'i64') return Float32Array.from(this.toArray() as BigInt64Array, (v) => Number(v));
    if (this.dtype !== 'f16' && this.dtype !== 'bf16') return Float32Array.from(this.toArray() as ArrayLike<number>);
    const src = this.device === 'cpu' ? this : this.to('cpu');
    const out = Tensor.empty(this.shape, 'f32');
    addon.convert(src.handle, out.handle);
    if (src !== this) src.dispose();
    const a = out.toArray() as Float32Array;
    out.dispose();
    return a;
  }

  /** A view of the same memory with another shape (same element count), or a slice at an element offset. */
  view(shape: readonly number[], elementOffset = 0): Tensor {
    try {
      return new Tensor(this.handle.view(checkShape(shape, 'view'), elementOffset));
    } catch (e) {
      rethrowNative(e);
    }
  }

  reshape(shape: readonly number[]): Tensor {
    const s = [...shape];
    const infer = s.indexOf(-1);
    if (infer >= 0) {
      const rest = numelOf(s.filter((_, i) => i !== infer));
      s[infer] = rest ? this.numel / rest : 0;
    }
    if (numelOf(s) !== this.numel || !s.every(Number.isInteger))
      throw new ShapeError(`reshape: [${this.shape.join(',')}] (${this.numel} elements) cannot become [${shape.join(',')}]`);
    return this.view(s, 0);
  }

  /** reshape() that takes over this tensor's memory: this handle is disposed, the result owns the data. */
  reshaped(shape: readonly number[]): Tensor {
    const v = this.reshape(shape);
    this.dispose();
    return v;
  }

  /** Copies n elements from src (at srcOffset) into dst (at dstOffset); same dtype, any devices. */
  static copyRange(dst: Tensor, dstOffset: number, src: Tensor, srcOffset: number, n: number): void {
    const d = dst.view([n], dstOffset),
      s = src.view([n], srcOffset);
    try {
      d.copyFrom(s);
    } finally {
      d.dispose();
      s.dispose();
    }
  }

  /** A copy on `device` (a new tensor even when already there). */
  to(device: Device): Tensor {
    if (!(device in DEVICE_CODE)) throw new ArgumentError(`to: unknown device '${device}'`);
    try {
      return new Tensor(this.handle.to(DEVICE_CODE[device]));
    } catch (e) {
      rethrowNative(e);
    }
  }

  /** Like to(), but disposes this tensor. */
  moveTo(device: Device): Tensor {
    if (device === this.device) return this;
    const t = this.to(device);
    this.dispose();
    return t;
  }

  copyFrom(src: Tensor): this {
    try {
      this.handle.copyFrom(src.handle);
    } catch (e) {
      rethrowNative(e);
    }
    return this;
  }

  /** Sets every element to 0 (a view: its own range); on CUDA queued behind earlier ops. */
  zero(): this {
    try {
      this.handle.zero();
    } catch (e) {
      rethrowNative(e);
    }
    return this;
  }

  clone(): Tensor {
    return this.to(this.device);
  }

  /** `using t = …` disposes at the end of the block */
  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    this.handle.dispose();
  }

  toString(): string {
    return `Tensor(${this.dtype}[${this.shape.join(',')}] on ${this.device})`;
  }
}

/** Live and peak bytes the addon holds per device. */
export function memory() {
  return addon.memory();
}

/** Peaks := what is held now, on both devices (to measure one phase). */
export function resetPeakMemory(): void {
  addon.reset_peak();
}

/** Hands the CUDA caching allocator's unused blocks back to the driver (a no-op without CUDA). */
export function emptyCache(): void {
  addon.empty_cache();
}
