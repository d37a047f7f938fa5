// Official split membership: which items (comment ids / unit ids) are in train, val, test.
import { FormatError } from '../errors.js';
import { readDelimited, readRecords, type ReadOptions } from './csv.js';

export type Split = 'train' | 'val' | 'test';
export const SPLITS: Split[] = ['train', 'val', 'test'];

/** GoEmotions official_split_aggregated/{train,dev,test}.tsv: text, label ids, comment id (no header). */
export async function goemotionsSplits(dir: string, read: ReadOptions = {}): Promise<Map<string, Set<Split>>> {
  const m = new Map<string, Set<Split>>();
  for (const [file, split] of [
    ['train.tsv', 'train'],
    ['dev.tsv', 'val'],
    ['test.tsv', 'test'],
  ] as const) {
    const p = `${dir}/${file}`;
    for await (const r of readDelimited(p, { delimiter: '\t', ...read })) {
      if (r.fields.length !== 3)
        throw new FormatError(`${p}:${r.line}:1: expected 3 tab-separated columns (text, labels, id), found ${r.fields.length}`);
      const id = r.fields[2].trim();
      if (!m.has(id)) m.set(id, new Set());
      m.get(id)!.add(split);
    }
  }
  return m;
}

/** Unhealthy official_aggregated/{val,test}.csv by _unit_id; train is every other item. */
export async function unhealthySplits(dir: string, read: ReadOptions = {}): Promise<Map<string, Set<Split>>> {
  const m = new Map<string, Set<Split>>();
  for (const [file, split] of [
    ['val.csv', 'val'],
    ['test.csv', 'test'],
  ] as const) {
    for await (const r of readRecords(`${dir}/${file}`, ['_unit_id'], read)) {
      const id = r.get('_unit_id').trim();
      if (!m.has(id)) m.set(id, new Set());
      m.get(id)!.add(split);
    }
  }
  return m;
}
