// The paper's data procedure, every random step seeded:
//  1 drop annotations with no positive label; 2 assign rows to splits by their item's official
//  split (several → train, else test, else val; none → dropped, or train where the dataset says so);
//  3 keep annotators present in all splits; 4 per split, drop annotators under min-share × the top
//  annotator's count and cap those over max-share × it to floor(max-share × top) rows by seeded
//  sampling; 5 repeat 3; 6 few-shot sets: for each test row, 1 and 2 examples from the same
//  annotator's other test items.
import { Rng, shuffle } from '../util/random.js';
import type { Annotation, RawDataset } from './datasets.js';
import { SPLITS, type Split } from './splits.js';

export interface PrepareOptions {
  seed?: number;
  minShare?: number;
  maxShare?: number;
  /** official membership, or a random item split with these fractions */
  split:
    | { kind: 'official'; membership: Map<string, Set<Split>>; unlistedToTrain: boolean }
    | { kind: 'random'; fractions: [number, number, number] };
}

export interface FewShotRow {
  row: Annotation;
  examples: Annotation[];
}

export interface Prepared {
  labels: string[];
  splits: Record<Split, Annotation[]>;
  fewShot: { 1: FewShotRow[]; 2: FewShotRow[] };
  counts: Record<string, number>;
  annotators: string[];
}

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function keepInAll(splits: Record<Split, Annotation[]>): string[] {
  const sets = SPLITS.map((s) => new Set(splits[s].map((r) => r.annotator)));
  const keep = [...sets[0]].filter((a) => sets[1].has(a) && sets[2].has(a)).sort(byKey);
  const ks = new Set(keep);
  for (const s of SPLITS) splits[s] = splits[s].filter((r) => ks.has(r.annotator));
  return keep;
}

export function prepare(ds: RawDataset, o: PrepareOptions): Prepared {
  const seed = o.seed ?? 42,
    minShare = o.minShare ?? 0.05,
    maxShare = o.maxShare ?? 0.6;
  const rng = new Rng(seed);
  const counts: Record<string, number> = { raw: ds.rows.length + ds.skipped.emptyText, emptyText: ds.skipped.emptyText };
  // 1
  const positive = ds.rows.filter((r) => r.labels.some((v) => v === 1));
  counts.noPositive = ds.rows.length - positive.length;
  // 2
  const splits: Record<Split, Annotation[]> = { train: [], val: [], test: [] };
  let unassigned = 0;
  if (o.split.kind === 'official') {
    const { membership, unlistedToTrain } = o.split;
    for (const r of positive) {
      const m = membership.get(r.item);
      if (!m || !m.size) {
        if (unlistedToTrain) splits.train.push(r);
        else unassigned++;
        continue;
      }
      splits[m.size > 1 || m.has('train') ? 'train' : m.has('test') ? 'test' : 'val'].push(r);
    }
  } else {
    const items = shuffle([...new Set(positive.map((r) => r.item))].sort(byKey), rng);
    const [ft, fv] = o.split.fractions;
    const nTrain = Math.round(items.length * ft),
      nVal = Math.round(items.length * fv);
    const where = new Map<string, Split>();
    items.forEach((it, i) => where.set(it, i < nTrain ? 'train' : i < nTrain + nVal ? 'val' : 'test'));
    for (const r of positive) splits[where.get(r.item)!].push(r);
  }
  counts.notInSplits = unassigned;
  // 3
  keepInAll(splits);
  // 4 per split: drop the rare annotators, cap the frequent ones
  for (const s of SPLITS) {
    const per = new Map<string, Annotation[]>();
    for (const r of splits[s]) {
      if (!per.has(r.annotator)) per.set(r.annotator, []);
      per.get(r.annotator)!.push(r);
    }
    const max = Math.max(0, ...[...per.values()].map((v) => v.length));
    const cap = Math.floor(maxShare * max);
    const out: Annotation[] = [];
    for (const a of [...per.keys()].sort(byKey)) {
      let rows = per.get(a)!;
      if (rows.length < minShare * max) continue;
      if (rows.length > maxShare * max) {
        const pick = new Set(
          shuffle(
            rows.map((_, i) => i),
            rng,
          ).slice(0, cap),
        );
        rows = rows.filter((_, i) => pick.has(i)); // sampled, kept in file order
      }
      out.push(...rows);
    }
    splits[s] = out;
  }
  // 5
  const annotators = keepInAll(splits);
  // 6 few-shot examples from the same annotator's other test items
  const byAnnotator = new Map<string, Annotation[]>();
  for (const r of splits.test) {
    if (!byAnnotator.has(r.annotator)) byAnnotator.set(r.annotator, []);
    byAnnotator.get(r.annotator)!.push(r);
  }
  const fewShot: Prepared['fewShot'] = { 1: [], 2: [] };
  for (const k of [1, 2] as const) {
    const krng = new Rng(seed + k);
    for (const r of splits.test) {
      const pool = byAnnotator.get(r.annotator)!.filter((x) => x.item !== r.item);
      if (pool.length < k) continue;
      fewShot[k].push({ row: r, examples: shuffle([...pool], krng).slice(0, k) });
    }
  }
  for (const s of SPLITS) counts[s] = splits[s].length;
  counts.annotators = annotators.length;
  counts.oneShot = fewShot[1].length;
  counts.twoShot = fewShot[2].length;
  return { labels: ds.labels, splits, fewShot, counts, annotators };
}

/** An example's response: its positive labels, comma-separated, in label order. */
export function labelText(labels: string[], bits: Uint8Array): string {
  return labels.filter((_, i) => bits[i]).join(', ');
}
