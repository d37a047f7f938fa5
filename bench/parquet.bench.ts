// Parquet on prepare's own output: the real GoEmotions sample prepared, its train split replicated
// to the official scale (~150k rows), written and read by ours (hyparquet-writer / hyparquet) and by
// parquetjs-lite (the library we replaced; a devDependency, only for this peer).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { runPrepare } from '../lib/data/run.js';
import { readParquet, writeParquet, type Column } from '../lib/data/parquet.js';
import { type Row } from './util.js';

const ROWS = 150_000;

interface ParquetJs {
  ParquetSchema: new (f: Record<string, { type: string }>) => unknown;
  ParquetWriter: {
    openFile(
      s: unknown,
      p: string,
    ): Promise<{ appendRow(r: object): Promise<void>; close(): Promise<void>; setRowGroupSize(n: number): void }>;
  };
  ParquetReader: { openFile(p: string): Promise<{ getCursor(): { next(): Promise<unknown> }; close(): Promise<void> }> };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

export async function run(): Promise<Row[]> {
  const ge = path.resolve('..', 'shared', 'data', 'goemotions');
  if (!fs.existsSync(path.join(ge, 'goemotions_1.prefix-sample.csv'))) return [];
  let peer: ParquetJs | null = null;
  try {
    peer = createRequire(import.meta.url)('parquetjs-lite') as ParquetJs;
  } catch {
    /* installed without devDependencies: ours only */
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-bench-parquet-'));
  try {
    await runPrepare({
      dataset: 'goemotions',
      input: [path.join(ge, 'goemotions_1.prefix-sample.csv')],
      splits: path.join(ge, 'official_split_aggregated'),
      out: path.join(dir, 'prepared'),
    });
    const train = (await readParquet(path.join(dir, 'prepared', 'train.parquet'))) as Record<string, string>[];
    const rows = Array.from({ length: ROWS }, (_, i) => ({ ...train[i % train.length], item: `${train[i % train.length].item}_${i}` }));
    const schema: Record<string, Column> = { item: 'UTF8', annotator: 'UTF8', text: 'UTF8', labels: 'UTF8' };
    const ours = path.join(dir, 'ours.parquet'),
      theirs = path.join(dir, 'theirs.parquet');
    const best = async (fn: () => Promise<unknown>) => Math.min(await timed(fn), await timed(fn), await timed(fn));
    const wOurs = await best(() => writeParquet(ours, schema, rows));
    const rOurs = await best(() => readParquet(ours));
    const out: Row[] = [];
    let wPeer: number | undefined, rPeer: number | undefined;
    if (peer) {
      const p = peer;
      wPeer = await best(async () => {
        const w = await p.ParquetWriter.openFile(
          new p.ParquetSchema(Object.fromEntries(Object.keys(schema).map((k) => [k, { type: 'UTF8' }]))),
          theirs,
        );
        w.setRowGroupSize(8192);
        for (const r of rows) await w.appendRow(r);
        await w.close();
      });
      rPeer = await best(async () => {
        const r = await p.ParquetReader.openFile(theirs);
        const c = r.getCursor();
        while (await c.next());
        await r.close();
      });
    }
    const mb = (f: string) => fs.statSync(f).size / 2 ** 20;
    out.push({
      suite: 'parquet',
      case: `write ${ROWS.toLocaleString('en')} prepared rows`,
      metric: 'rows/s',
      value: ROWS / wOurs,
      baseline: peer ? 'parquetjs-lite' : 'parquetjs-lite not installed',
      baselineValue: wPeer && ROWS / wPeer,
    });
    out.push({
      suite: 'parquet',
      case: `read ${ROWS.toLocaleString('en')} prepared rows`,
      metric: 'rows/s',
      value: ROWS / rOurs,
      baseline: peer ? 'parquetjs-lite' : 'parquetjs-lite not installed',
      baselineValue: rPeer && ROWS / rPeer,
    });
    out.push({
      suite: 'parquet',
      case: 'file size (snappy, dictionary)',
      metric: 'MiB',
      value: mb(ours),
      baseline: peer ? 'parquetjs-lite (uncompressed)' : undefined,
      baselineValue: peer ? mb(theirs) : undefined,
    });
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
