// Prepared splits on disk: parquet files, written by hyparquet-writer and read by hyparquet (both
// maintained, dependency-free, whole-file; bench/parquet.bench.ts measures them against
// parquetjs-lite, which this replaced: it was unmaintained and awaited once per row).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
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

/**
 * Our files are flat: a root and one leaf column per field, and every row group one chunk per leaf
 * in that order. Anything else is refused before reading: hyparquet starts a read for every
 * column chunk a row group lists but collects only those the schema names, so a chunk the schema
 * does not name (a damaged footer) would fail unobserved and crash the process (found by fuzzing).
 */
function flatSchema(m: ReturnType<typeof parquetMetadata>): void {
  const [root, ...leaves] = m.schema;
  if (!root || root.num_children !== leaves.length || leaves.some((l) => l.num_children))
    throw new Error(`expected a flat schema of ${leaves.length} columns`);
  for (const [g, rg] of m.row_groups.entries()) {
    if (rg.columns.length !== leaves.length)
      throw new Error(`row group ${g} has ${rg.columns.length} column chunks for ${leaves.length} columns`);
    for (const [i, c] of rg.columns.entries()) {
      const p = c.meta_data?.path_in_schema;
      if (!p || p.length !== 1 || p[0] !== leaves[i].name)
        throw new Error(`row group ${g}, column chunk ${i} is not column '${leaves[i].name}'`);
    }
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
  // the file's own ArrayBuffer unless Node pooled a small file into a shared one
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  const ab = (whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) as ArrayBuffer;
  let rows: unknown[];
  try {
    // footer and schema first, here: hyparquet starts every column chunk's read before it builds
    // the schema tree, so a schema that fails to build there left those reads' rejections unhandled
    // (a crash the fuzz campaign found); parsed here, a bad one throws before any read has started
    const metadata = parquetMetadata(ab);
    parquetSchema(metadata);
    flatSchema(metadata);
    rows = await parquetReadObjects({ file: ab, metadata });
  } catch (e) {
    // damaged footers, pages and thrift structures surface as Errors, RangeErrors and TypeErrors
    throw new FormatError(`${file}: not a readable parquet file (${e instanceof Error ? e.message : String(e)})`);
  }
  for (const [i, r] of rows.entries())
    if (typeof r !== 'object' || r === null) throw new FormatError(`${file}: damaged parquet data at row ${i} (not a record)`);
  return rows as Record<string, unknown>[];
}
