// Typed errors, one class per domain. Native errors carry err.code (PLF_SHAPE, PLF_DTYPE, ...) and
// are re-thrown as these classes with the native message (which names the op and the shapes).

export class PlfError extends Error {
  constructor(message: string, readonly code: string = 'PLF_ERROR') {
    super(message);
    this.name = new.target.name;
  }
}
export class ShapeError extends PlfError {}
export class DTypeError extends PlfError {}
export class DeviceError extends PlfError {}
export class ArgumentError extends PlfError {}
export class NativeError extends PlfError {}
export class FormatError extends PlfError {}
export class ConfigError extends PlfError {}

const byCode: Record<string, new (m: string, c: string) => PlfError> = {
  PLF_SHAPE: ShapeError,
  PLF_DTYPE: DTypeError,
  PLF_DEVICE: DeviceError,
  PLF_ARG: ArgumentError,
  PLF_NATIVE: NativeError,
};

/** Re-throws an error from the addon as its typed class; other errors pass through unchanged. */
export function rethrowNative(e: unknown): never {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && byCode[code]) {
    const err = new byCode[code]((e as Error).message, code);
    throw err;
  }
  throw e;
}

/** Wraps every function of an object so native errors surface as typed errors. */
export function typedErrors<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'function' && !/^[A-Z]/.test(k)) {
      out[k] = (...args: unknown[]) => {
        try {
          return (v as (...a: unknown[]) => unknown)(...args);
        } catch (e) {
          rethrowNative(e);
        }
      };
    } else {
      out[k] = v;
    }
  }
  return out as T;
}
