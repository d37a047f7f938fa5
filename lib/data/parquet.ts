// Prepared splits on disk: parquet files (parquetjs-lite) and their reader.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { FormatError, IOError } from '../errors.js';

const require = createRequire(import.meta.url);
// parquetjs-lite ships no types; this is the part of its API we use
interface ParquetLib {
  ParquetSchema: new (fields: Record<string, { type: string; optional?: boolean }>) => unknown;
  ParquetWriter: {
    openFile(
      schema: unknown,
      path: string,
      opts?: object,
    ): Promise<{ appendRow(r: object): Promise<void>; close(): Promise<void>; setRowGroupSize(n: number): void }>;
  };
  ParquetReader: {
    openFile(path: string): Promise<{
      getCursor(): { next(): Promise<Record<string, unknown> | null> };
      getRowCount(): number | bigint;
      close(): Promise<void>;
    }>;
  };
}
const parquet = require('parquetjs-lite') as ParquetLib;

export type Column = 'UTF8' | 'INT64' | 'DOUBLE';

/** A digest of rows as written or read (columns in schema order): what the manifest records per file. */
export function rowsDigest(columns: string[], rows: Record<string, unknown>[]): { rows: number; sha256: string } {
  const h = crypto.createHash('sha256');
  for (const r of rows) h.update(JSON.stringify(columns.map((c) => (typeof r[c] === 'bigint' ? String(r[c]) : (r[c] ?? null)))) + '\n');
  return { rows: rows.length, sha256: h.digest('hex') };
}

export async function writeParquet(
  file: string,
  schema: Record<string, Column>,
  rows: Record<string, string | number | bigint>[],
): Promise<void> {
  const s = new parquet.ParquetSchema(Object.fromEntries(Object.entries(schema).map(([k, t]) => [k, { type: t }])));
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const w = await parquet.ParquetWriter.openFile(s, tmp);
    w.setRowGroupSize(8192);
    for (const r of rows) await w.appendRow(r);
    await w.close();
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    throw new IOError(`${file}: cannot write (${err.code ? `${err.code}: ${err.syscall ?? ''}`.trim() : err.message})`, 'PLF_IO');
  }
}

export async function readParquet(file: string): Promise<Record<string, unknown>[]> {
  let r;
  try {
    r = await parquet.ParquetReader.openFile(file);
  } catch (e) {
    throw new FormatError(`${file}: not a readable parquet file (${e instanceof Error ? e.message : String(e)})`);
  }
  const out: Record<string, unknown>[] = [];
  try {
    const c = r.getCursor();
    for (let row = await c.next(); row; row = await c.next()) {
      if (typeof row !== 'object') throw new Error(`row ${out.length} is not a record`);
      out.push(row);
    }
  } catch (e) {
    // the library throws Errors, RangeErrors and bare strings for damaged pages
    throw new FormatError(`${file}: damaged parquet data near row ${out.length} (${e instanceof Error ? e.message : String(e)})`);
  } finally {
    await r.close().catch(() => {});
  }
  return out;
}
