// safetensors reading: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
// The header is validated before any tensor is touched; every error names the file and tensor.
import buffer from 'node:buffer';
import fs from 'node:fs';
import { FormatError, brief } from '../errors.js';
import { Tensor, type DType, type TypedArray } from '../tensor.js';
import { writeFileAtomic } from './files.js';

export const ST_DTYPES: Record<string, { dtype: DType; bytes: number }> = {
  F32: { dtype: 'f32', bytes: 4 },
  F16: { dtype: 'f16', bytes: 2 },
  BF16: { dtype: 'bf16', bytes: 2 },
  U8: { dtype: 'u8', bytes: 1 },
  I32: { dtype: 'i32', bytes: 4 },
  I64: { dtype: 'i64', bytes: 8 },
};
const MAX_HEADER = 100 * 1024 * 1024;

export interface TensorEntry {
  name: string;
  stDtype: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  path: string;
  metadata: Record<string, string>;
  tensors: Map<string, TensorEntry>;
  /** absolute byte offset where tensor data starts */
  dataStart: number;
  size: number;
}

export function parseHeader(path: string, head: Buffer, fileSize: number): SafetensorsFile {
  if (fileSize < 8) throw new FormatError(`${path}: ${fileSize} bytes is too short for a safetensors file`);
  const n = head.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER) || Number(n) + 8 > fileSize)
    throw new FormatError(`${path}: header length ${n} is larger than the file (${fileSize} bytes) or the 100 MiB cap`);
  const hlen = Number(n);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(head.subarray(8, 8 + hlen).toString('utf8'));
  } catch (e) {
    throw new FormatError(`${path}: header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FormatError(`${path}: header must be a JSON object`);
  const dataStart = 8 + hlen,
    dataLen = fileSize - dataStart;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== 'string'))
        throw new FormatError(`${path}: __metadata__ must be an object of strings`);
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${path}: tensor '${name}'`;
    if (typeof e !== 'object' || e === null) throw new FormatError(`${where}: entry is not an object`);
    const dt = ST_DTYPES[e.dtype as string];
    if (!dt) throw new FormatError(`${where}: unsupported dtype ${brief(e.dtype)}`);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      throw new FormatError(`${where}: shape ${brief(e.shape)} is not a list of non-negative integers`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[1] < off[0])
      throw new FormatError(`${where}: data_offsets ${brief(off)} must be [begin, end] with begin <= end`);
    const shape = e.shape as number[];
    const bytes = shape.reduce((a, b) => a * b, 1) * dt.bytes;
    if (off[1] - off[0] !== bytes)
      throw new FormatError(`${where}: shape [${shape.join(',')}] × ${e.dtype} is ${bytes} bytes but data_offsets span ${off[1] - off[0]}`);
    if (off[1] > dataLen)
      throw new FormatError(`${where}: data ends at byte ${off[1]} but the file holds ${dataLen} data bytes (truncated?)`);
    tensors.set(name, { name, stDtype: e.dtype as string, dtype: dt.dtype, shape, begin: off[0], end: off[1] });
  }
  const spans = [...tensors.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < spans.length; i++)
    if (spans[i].begin < spans[i - 1].end) throw new FormatError(`${path}: tensors '${spans[i - 1].name}' and '${spans[i].name}' overlap`);
  return { path, metadata, tensors, dataStart, size: fileSize };
}

/** Opens `file` for reading; the error names the file. */
function openRead(file: string): number {
  try {
    return fs.openSync(file, 'r');
  } catch (e) {
    throw new FormatError(`${file}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Reads exactly `length` bytes at `position` into buf[offset…] in chunks (readSync takes < 2 GiB). */
function readFully(file: string, fd: number, buf: Uint8Array, offset: number, length: number, position: number, what: string): void {
  let done = 0;
  while (done < length) {
    const n = Math.min(CHUNK, length - done);
    let got: number;
    try {
      got = fs.readSync(fd, buf, offset + done, n, position + done);
    } catch (e) {
      throw new FormatError(`${file}: ${what}: read failed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (got === 0) throw new FormatError(`${file}: ${what} is truncated (${done} of ${length} bytes)`);
    done += got;
  }
}
/** the largest single read (and the chunk a tensor is streamed in) */
export const CHUNK = 64 * 1024 * 1024;

/** Reads and validates the header only (the data is read on demand). */
export function openSafetensors(path: string): SafetensorsFile {
  const fd = openRead(path);
  try {
    const size = fs.fstatSync(fd).size;
    const first = Buffer.alloc(Math.min(size, 8));
    readFully(path, fd, first, 0, first.length, 0, 'header length');
    const hlen = size >= 8 ? Number(first.readBigUInt64LE(0)) : 0;
    const head = Buffer.alloc(Math.min(size, 8 + Math.min(hlen, MAX_HEADER)));
    readFully(path, fd, head, 0, head.length, 0, 'header');
    return parseHeader(path, head, size);
  } finally {
    fs.closeSync(fd);
  }
}

function entry(f: SafetensorsFile, name: string): TensorEntry {
  const e = f.tensors.get(name);
  if (!e) throw new FormatError(`${f.path}: no tensor named '${name}' (has: ${[...f.tensors.keys()].slice(0, 20).join(', ')})`);
  return e;
}

/** The raw bytes of one tensor, read with positioned reads (no whole-file buffer). */
export function readTensorBytes(f: SafetensorsFile, name: string): Buffer {
  const e = entry(f, name);
  const n = e.end - e.begin;
  if (n > buffer.constants.MAX_LENGTH)
    throw new FormatError(`${f.path}: tensor '${name}' has ${n} bytes, more than one buffer holds (use readTensor)`);
  const buf = Buffer.alloc(n);
  const fd = openRead(f.path);
  try {
    readFully(f.path, fd, buf, 0, n, f.dataStart + e.begin, `tensor '${name}'`);
  } finally {
    fs.closeSync(fd);
  }
  return buf;
}

/** One tensor as a native Tensor on the CPU, streamed from the file in chunks (any size). */
export function readTensor(f: SafetensorsFile, name: string, chunkBytes = CHUNK): Tensor {
  const e = entry(f, name);
  const t = Tensor.empty(e.shape, e.dtype);
  const n = e.end - e.begin;
  const chunk = Buffer.allocUnsafe(Math.min(n, chunkBytes));
  const fd = openRead(f.path);
  try {
    for (let off = 0; off < n; off += chunkBytes) {
      const len = Math.min(chunkBytes, n - off);
      readFully(f.path, fd, chunk, 0, len, f.dataStart + e.begin + off, `tensor '${name}'`);
      t.handle.copyFromArray(new Uint8Array(chunk.buffer, chunk.byteOffset, len), off);
    }
  } catch (err) {
    t.dispose();
    throw err;
  } finally {
    fs.closeSync(fd);
  }
  return t;
}

// ── writing ──

export interface PlannedTensor {
  name: string;
  dtype: 'f32' | 'f16' | 'bf16' | 'u8' | 'i32' | 'i64';
  shape: number[];
  /** called once, in file order, when the tensor's bytes are written */
  bytes: () => Uint8Array;
}

const ST_NAME: Record<PlannedTensor['dtype'], string> = { f32: 'F32', f16: 'F16', bf16: 'BF16', u8: 'U8', i32: 'I32', i64: 'I64' };
const ST_SIZE: Record<PlannedTensor['dtype'], number> = { f32: 4, f16: 2, bf16: 2, u8: 1, i32: 4, i64: 8 };

/**
 * Streams tensors into a safetensors file: the header is computed from the plan, then each tensor
 * is produced and written in turn, so memory holds one tensor at a time. Written to a temp file
 * and renamed, so a crash never leaves a half-written file under the final name.
 */
export function writeSafetensorsStream(file: string, plan: PlannedTensor[], metadata?: Record<string, string>): void {
  const sorted = [...plan].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const t of sorted) {
    const n = t.shape.reduce((a, b) => a * b, 1) * ST_SIZE[t.dtype];
    header[t.name] = { dtype: ST_NAME[t.dtype], shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  const raw = Buffer.from(JSON.stringify(header), 'utf8');
  const json = Buffer.concat([raw, Buffer.alloc((8 - (raw.length % 8)) % 8, 0x20)]); // pad with spaces to 8 bytes
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  writeFileAtomic(file, (fd) => {
    fs.writeSync(fd, head);
    fs.writeSync(fd, json);
    for (const t of sorted) {
      const b = t.bytes();
      const want = (header[t.name] as { data_offsets: number[] }).data_offsets;
      if (b.length !== want[1] - want[0])
        throw new FormatError(`${file}: tensor '${t.name}' produced ${b.length} bytes, planned ${want[1] - want[0]}`);
      for (let off = 0; off < b.length;) off += fs.writeSync(fd, b, off, Math.min(b.length - off, 1 << 30));
    }
  });
}

export function tensorBytes(t: Tensor): Uint8Array {
  const a = t.toArray() as TypedArray;
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Writes tensors to a safetensors file (header padded to 8 bytes, data in name order). */
export function writeSafetensors(file: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): void {
  writeSafetensorsStream(
    file,
    Object.entries(tensors).map(([name, t]) => ({
      name,
      dtype: t.dtype,
      shape: [...t.shape],
      bytes: () => tensorBytes(t),
    })),
    metadata,
  );
}
