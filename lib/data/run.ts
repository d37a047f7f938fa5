// `plf-native prepare`: read a raw dataset, run the procedure, write parquet + manifest.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { readGoEmotions, readUnhealthy, readCustom, customSplits, type ColumnMap, type RawDataset } from './datasets.js';
import { goemotionsSplits, unhealthySplits, type Split } from './splits.js';
import { prepare, type PrepareOptions } from './prepare.js';
import type { EncodingErrors } from './csv.js';
import { writePrepared, sha256, summary } from './output.js';

export interface PrepareRun {
  dataset: 'goemotions' | 'unhealthy' | 'custom';
  input: string[];
  out: string;
  /** folder with the official split files (goemotions: official_split_aggregated, unhealthy: official_aggregated) */
  splits?: string;
  /** 'random:0.8,0.1,0.1' splits items randomly instead */
  split?: string;
  seed?: number;
  minShare?: number;
  maxShare?: number;
  /** custom datasets: a column map (object or path to a JSON file) and a name */
  columns?: ColumnMap | string;
  name?: string;
  /** invalid UTF-8 in an input file: an error naming file and line ('fatal', default) or U+FFFD ('replace') */
  encodingErrors?: EncodingErrors;
  /** replace a prepared dataset (or other files) already in `out`; without it such a folder is refused */
  overwrite?: boolean;
}

/** `out` is written only when it is new, empty, or `overwrite` is given: a prepared set is never replaced silently. */
function guardOut(o: PrepareRun): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(o.out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new ConfigError(`prepare: --out ${o.out} is a file, not a folder`);
    throw e;
  }
  if (!entries.length) return;
  const what = entries.includes('manifest.json')
    ? 'a prepared dataset (manifest.json)'
    : `other files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''})`;
  if (!o.overwrite)
    throw new ConfigError(`prepare: ${o.out} already holds ${what}: pass --overwrite to replace it, or choose another --out`);
  // the manifest goes first: a run interrupted from here on leaves no manifest, so no half-written set is loaded as whole
  fs.rmSync(path.join(o.out, 'manifest.json'), { force: true });
}

export async function runPrepare(o: PrepareRun): Promise<{ manifest: Record<string, unknown>; text: string }> {
  if (!o.input.length) throw new ConfigError('prepare: give at least one --input file');
  for (const f of o.input) if (!fs.existsSync(f)) throw new ConfigError(`prepare: input file ${f} does not exist`);
  guardOut(o);
  if (o.encodingErrors !== undefined && o.encodingErrors !== 'fatal' && o.encodingErrors !== 'replace')
    throw new ConfigError(`prepare: encodingErrors must be 'fatal' or 'replace', got ${String(o.encodingErrors)}`);
  const read = { encodingErrors: o.encodingErrors };
  let ds: RawDataset;
  if (o.dataset === 'goemotions') ds = await readGoEmotions(o.input, read);
  else if (o.dataset === 'unhealthy') ds = await readUnhealthy(o.input, read);
  else {
    if (!o.columns) throw new ConfigError('prepare --dataset custom needs --columns (a JSON column map)');
    let map: ColumnMap;
    if (typeof o.columns === 'string') {
      try {
        map = JSON.parse(fs.readFileSync(o.columns, 'utf8')) as ColumnMap;
      } catch (e) {
        throw new ConfigError(`${o.columns}: ${(e as Error).message}`);
      }
    } else map = o.columns;
    ds = await readCustom(o.name ?? 'custom', o.input, map, read);
  }
  let split: PrepareOptions['split'];
  if (o.split?.startsWith('random')) {
    const f = o.split
      .slice(o.split.indexOf(':') + 1)
      .split(',')
      .map(Number);
    if (f.length !== 3 || f.some((x) => !(x >= 0)) || Math.abs(f[0] + f[1] + f[2] - 1) > 1e-6)
      throw new ConfigError(`prepare: --split ${o.split} must be random:TRAIN,VAL,TEST fractions summing to 1`);
    split = { kind: 'random', fractions: f as [number, number, number] };
  } else {
    if (o.dataset === 'custom') {
      const bySplit = customSplits.get(ds);
      if (!bySplit) throw new ConfigError('prepare --dataset custom needs --split random:… or a splitField in the column map');
      const membership = new Map<string, Set<Split>>();
      for (const [item, s] of bySplit) {
        const sp = s === 'dev' || s === 'validation' ? 'val' : s;
        if (sp !== 'train' && sp !== 'val' && sp !== 'test')
          throw new ConfigError(`prepare: item ${item} has split '${s}' (expected train, dev/val or test)`);
        membership.set(item, new Set([sp]));
      }
      split = { kind: 'official', membership, unlistedToTrain: false };
    } else if (!o.splits) throw new ConfigError(`prepare: give --splits (the official split folder) or --split random:0.8,0.1,0.1`);
    else
      split =
        o.dataset === 'goemotions'
          ? { kind: 'official', membership: await goemotionsSplits(o.splits, read), unlistedToTrain: false }
          : { kind: 'official', membership: await unhealthySplits(o.splits, read), unlistedToTrain: true };
  }
  const seed = o.seed ?? 42,
    minShare = o.minShare ?? 0.05,
    maxShare = o.maxShare ?? 0.6;
  const p = prepare(ds, { seed, minShare, maxShare, split });
  const inputs: Record<string, string> = {};
  for (const f of o.input) inputs[f] = await sha256(f);
  const manifest = await writePrepared(o.out, p, {
    dataset: ds.name,
    seed,
    minShare,
    maxShare,
    split: o.split ?? `official:${o.splits}`,
    inputs,
    createdBy: 'plf-native prepare',
  });
  return { manifest, text: summary(manifest) };
}
