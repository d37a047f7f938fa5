// Writing a prepared dataset: parquet per split and k-shot set, manifest.json, a summary.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { writeParquet, readParquet, rowsDigest, type Column } from './parquet.js';
import { io, writeFileAtomic } from '../io/files.js';
import { labelText, type Prepared } from './prepare.js';
import { SPLITS, type Split } from './splits.js';
import { FormatError } from '../errors.js';

export interface PreparedRow {
  item: string;
  text: string;
  annotator: string;
  labels: string[];
}
export interface PreparedShotRow extends PreparedRow {
  examples: { text: string; labels: string[] }[];
}

const ROW: Record<string, Column> = { item: 'UTF8', annotator: 'UTF8', text: 'UTF8', labels: 'UTF8' };

export async function sha256(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function writePrepared(out: string, p: Prepared, manifest: Record<string, unknown>): Promise<Record<string, unknown>> {
  io('create', out, () => fs.mkdirSync(out, { recursive: true }));
  // each file's rows are digested as written; loadPrepared checks the rows it reads against them
  const checksums: Record<string, { columns: string[]; rows: number; sha256: string }> = {};
  const write = async (name: string, schema: Record<string, Column>, rows: Record<string, string>[]) => {
    await writeParquet(path.join(out, name), schema, rows);
    checksums[name] = { columns: Object.keys(schema), ...rowsDigest(Object.keys(schema), rows) };
  };
  for (const s of SPLITS)
    await write(
      `${s}.parquet`,
      ROW,
      p.splits[s].map((r) => ({
        item: r.item,
        annotator: r.annotator,
        text: r.text,
        labels: labelText(p.labels, r.labels),
      })),
    );
  for (const k of [1, 2] as const) {
    const schema: Record<string, Column> = { ...ROW };
    for (let e = 1; e <= k; e++) {
      schema[`example_${e}_text`] = 'UTF8';
      schema[`example_${e}_labels`] = 'UTF8';
    }
    await write(
      `test_${k}shot.parquet`,
      schema,
      p.fewShot[k].map(({ row, examples }) => {
        const o: Record<string, string> = {
          item: row.item,
          annotator: row.annotator,
          text: row.text,
          labels: labelText(p.labels, row.labels),
        };
        examples.forEach((ex, i) => {
          o[`example_${i + 1}_text`] = ex.text;
          o[`example_${i + 1}_labels`] = labelText(p.labels, ex.labels);
        });
        return o;
      }),
    );
  }
  const stats: Record<string, unknown> = {};
  for (const s of SPLITS) {
    const rows = p.splits[s];
    const freq = Object.fromEntries(p.labels.map((l, i) => [l, rows.reduce((n, r) => n + r.labels[i], 0)]));
    stats[s] = {
      rows: rows.length,
      items: new Set(rows.map((r) => r.item)).size,
      annotators: new Set(rows.map((r) => r.annotator)).size,
      labelFrequency: freq,
    };
  }
  const full = {
    ...manifest,
    labels: p.labels,
    counts: p.counts,
    annotators: p.annotators,
    splits: stats,
    files: [...SPLITS.map((s) => `${s}.parquet`), 'test_1shot.parquet', 'test_2shot.parquet'],
    checksums,
  };
  writeFileAtomic(path.join(out, 'manifest.json'), JSON.stringify(full, null, 2) + '\n');
  return full;
}

/** A prepared folder: its manifest and rows. */
export async function loadPrepared(dir: string): Promise<{
  manifest: Record<string, unknown> & { labels: string[] };
  splits: Record<Split, PreparedRow[]>;
  shots: { 1: PreparedShotRow[]; 2: PreparedShotRow[] };
}> {
  const mf = path.join(dir, 'manifest.json');
  if (!fs.existsSync(mf)) throw new FormatError(`${dir}: no manifest.json (run plf-native prepare first)`);
  let manifest: Record<string, unknown> & { labels: string[] };
  try {
    manifest = JSON.parse(fs.readFileSync(mf, 'utf8'));
  } catch (e) {
    throw new FormatError(`${mf}: ${(e as Error).message}`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new FormatError(`${mf}: must hold a JSON object`);
  if (!Array.isArray(manifest.labels) || !manifest.labels.length || !manifest.labels.every((l) => typeof l === 'string'))
    throw new FormatError(`${mf}: labels must be a list of label names`);
  const sums = manifest.checksums as Record<string, { columns?: unknown; rows?: unknown; sha256?: unknown }> | undefined;
  if (typeof sums !== 'object' || sums === null)
    throw new FormatError(`${mf}: no row checksums (prepared by an older version?): run plf-native prepare again`);
  /** a prepared file's rows, checked against the manifest's digest */
  const read = async (name: string): Promise<Record<string, unknown>[]> => {
    const file = path.join(dir, name);
    const rows = await readParquet(file);
    const want = sums[name];
    if (!want || !Array.isArray(want.columns) || !want.columns.every((c) => typeof c === 'string'))
      throw new FormatError(`${mf}: no checksum (columns, rows, sha256) for ${name}`);
    const got = rowsDigest(want.columns as string[], rows);
    if (got.rows !== want.rows || got.sha256 !== want.sha256)
      throw new FormatError(
        `${file}: its ${got.rows} rows do not match the manifest's checksum (${String(want.rows)} rows): the file is damaged or was changed; run prepare again`,
      );
    return rows;
  };
  const toRow = (r: Record<string, unknown>): PreparedRow => ({
    item: String(r.item),
    text: String(r.text),
    annotator: String(r.annotator),
    labels: String(r.labels ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  });
  const splits = {} as Record<Split, PreparedRow[]>;
  for (const s of SPLITS) splits[s] = (await read(`${s}.parquet`)).map(toRow);
  const shots = { 1: [] as PreparedShotRow[], 2: [] as PreparedShotRow[] };
  for (const k of [1, 2] as const) {
    const f = path.join(dir, `test_${k}shot.parquet`);
    if (!fs.existsSync(f)) continue;
    shots[k] = (await read(`test_${k}shot.parquet`)).map((r) => ({
      ...toRow(r),
      examples: Array.from({ length: k }, (_, e) => ({
        text: String(r[`example_${e + 1}_text`]),
        labels: String(r[`example_${e + 1}_labels`] ?? '')
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      })),
    }));
  }
  return { manifest, splits, shots };
}

export function summary(m: Record<string, unknown>): string {
  const splits = m.splits as Record<Split, { rows: number; items: number; annotators: number; labelFrequency: Record<string, number> }>;
  const lines = [`${String(m.dataset)}: ${(m.counts as Record<string, number>).raw} raw annotations, seed ${String(m.seed)}`];
  for (const s of SPLITS)
    lines.push(
      `  ${s.padEnd(5)} ${String(splits[s].rows).padStart(7)} rows  ${String(splits[s].items).padStart(7)} items  ${String(splits[s].annotators).padStart(5)} annotators`,
    );
  const c = m.counts as Record<string, number>;
  lines.push(`  dropped: ${c.noPositive} without a positive label, ${c.emptyText} with empty text, ${c.notInSplits} in no official split`);
  lines.push(`  few-shot test sets: ${c.oneShot} rows (1-shot), ${c.twoShot} rows (2-shot)`);
  const f = splits.train.labelFrequency;
  lines.push(
    `  train label frequency: ${Object.entries(f)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  return lines.join('\n');
}
