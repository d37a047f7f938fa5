import nodePath from 'node:path';
// Typed errors, one class per domain. Native errors carry err.code (PLF_SHAPE, PLF_DTYPE, ...) and
// are re-thrown as these classes with the native message (which names the op and the shapes).

export class PlfError extends Error {
  constructor(
    message: string,
    readonly code: string = 'PLF_ERROR',
  ) {
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
/** A file-system failure (ENOSPC, EACCES, …); the message names the path. */
export class IOError extends PlfError {}

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

/** A short, safe rendering of a value read from a file for an error message: never throws (deep or
 * cyclic values), at most `max` characters. */
export function brief(v: unknown, max = 80): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Array.isArray(v) ? `[array of ${v.length}]` : typeof v === 'object' && v !== null ? '{object}' : String(v);
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** `p` resolved against `dir`, refused when it leaves `dir` (a `../` or absolute path read from a file). */
export function insideDir(dir: string, p: string, what: string): string {
  if (typeof p !== 'string' || !p || p.includes('\0')) throw new FormatError(`${what}: ${brief(p)} is not a file name`);
  const r = nodePath.resolve(dir, p);
  const rel = nodePath.relative(nodePath.resolve(dir), r);
  if (rel === '' || rel === '..' || rel.startsWith(`..${nodePath.sep}`) || nodePath.isAbsolute(rel))
    throw new FormatError(`${what}: path ${brief(p)} points outside ${dir}`);
  return r;
}
