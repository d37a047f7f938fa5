// Prepared splits on disk: parquet files, written by hyparquet-writer and read by hyparquet (both
// maintained, dependency-free, whole-file; bench/parquet.bench.ts measures them against
// parquetjs-lite, which this replaced: it was unmaintained and awaited once per row).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { FormatError, IOError } from '../errors.js';

export type Column = 'UTF8' | 'INT64' | 'DOUBLE';

/** A digest of rows as written or read (columns in schema order): what the manifest records per file. */
export function rowsDigest(columns: string[], rows: Record<string, unknown>[]): { rows: number; sha256: string } {
  const h = crypto.createHash('sha256');
  for (const r of rows) h.update(JSON.stringify(columns.map((c) => (typeof r[c] === 'bigint' ? String(r[c]) : (r[c] ?? null)))) + '\n');
  return { rows: rows.length, sha256: h.digest('hex') };
}

const TYPES = { UTF8: 'STRING', INT64: 'INT64', DOUBLE: 'DOUBLE' } as const;

export async function writeParquet(
  file: string,
  schema: Record<string, Column>,
  rows: Record<string, string | number | bigint>[],
): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const columnData = Object.entries(schema).map(([name, t]) => ({
      name,
      type: TYPES[t],
      nullable: false,
      data: rows.map((r) => (t === 'INT64' ? BigInt(r[name]) : t === 'DOUBLE' ? Number(r[name]) : String(r[name]))),
    }));
    const buf = parquetWriteBuffer({ columnData, rowGroupSize: 8192, createdBy: 'plf-native' });
    fs.writeFileSync(tmp, new Uint8Array(buf));
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    throw new IOError(`${file}: cannot write (${err.code ? `${err.code}: ${err.syscall ?? ''}`.trim() : err.message})`, 'PLF_IO');
  }
}

export async function readParquet(file: string): Promise<Record<string, unknown>[]> {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new IOError(`${file}: cannot read (${err.code ?? err.message})`, 'PLF_IO');
  }
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let rows: unknown[];
  try {
    rows = await parquetReadObjects({ file: ab });
  } catch (e) {
    // damaged footers, pages and thrift structures surface as Errors, RangeErrors and TypeErrors
    throw new FormatError(`${file}: not a readable parquet file (${e instanceof Error ? e.message : String(e)})`);
  }
  for (const [i, r] of rows.entries())
    if (typeof r !== 'object' || r === null) throw new FormatError(`${file}: damaged parquet data at row ${i} (not a record)`);
  return rows as Record<string, unknown>[];
}
