// Raw multi-annotator datasets → annotations: one row per (item, annotator) with 0/1 labels.
// GoEmotions and Unhealthy Conversations have built-in column maps; anything else is described
// by a ColumnMap (text, annotator, item id, and label columns or one label-list column).
import path from 'node:path';
import { ConfigError, FormatError } from '../errors.js';
import { readRecords, readJsonl, readUtf8, type ReadOptions } from './csv.js';

export interface Annotation {
  item: string;
  text: string;
  annotator: string;
  /** 0/1 per label, in the dataset's label order */
  labels: Uint8Array;
  /** where it came from, for messages */
  source: string;
}

export interface RawDataset {
  name: string;
  /** label names in label order (the order prompts list them and responses use) */
  labels: string[];
  rows: Annotation[];
  /** annotations skipped: empty text, no positive label */
  skipped: { emptyText: number; noPositive: number };
  files: string[];
}

export const GOEMOTIONS_LABELS = [
  'admiration',
  'amusement',
  'anger',
  'annoyance',
  'approval',
  'caring',
  'confusion',
  'curiosity',
  'desire',
  'disappointment',
  'disapproval',
  'disgust',
  'embarrassment',
  'excitement',
  'fear',
  'gratitude',
  'grief',
  'joy',
  'love',
  'nervousness',
  'neutral',
  'optimism',
  'pride',
  'realization',
  'relief',
  'remorse',
  'sadness',
  'surprise',
];
export const UNHEALTHY_LABELS = [
  'antagonize',
  'condescending',
  'dismissive',
  'generalisation',
  'generalisation_unfair',
  'healthy',
  'hostile',
  'sarcastic',
];

/** How to read a custom dataset. */
export interface ColumnMap {
  text: string;
  annotator: string;
  item: string;
  /** one 0/1 column per label (column name = label name unless labelNames maps it) */
  labelColumns?: string[];
  /** or one column holding a comma-separated (or JSON array) list of label names */
  labelList?: string;
  /** label names in order; default: labelColumns, or the sorted names seen in labelList */
  labelNames?: string[];
  /** raw label values → label names (e.g. ratings '1.0' … '5.0', or '0'/'1') */
  valueNames?: Record<string, string>;
  /** item-level records that list their annotators and annotations (comma lists or arrays): one row per pair */
  annotatorList?: string;
  annotationList?: string;
  /** a field naming each record's official split (train / dev|val / test) */
  splitField?: string;
  delimiter?: string;
}

/** Split per item read from a custom dataset's splitField. */
export const customSplits = new WeakMap<RawDataset, Map<string, string>>();

function bit(v: string, where: string, col: string): number {
  const t = v.trim();
  if (t === '1' || t === '1.0' || t === 'True' || t === 'true') return 1;
  if (t === '0' || t === '0.0' || t === 'False' || t === 'false' || t === '') return 0;
  throw new FormatError(`${where}: column '${col}' must be 0 or 1, got ${JSON.stringify(v)}`);
}

function finish(name: string, labels: string[], rows: Annotation[], skipped: RawDataset['skipped'], files: string[]): RawDataset {
  return { name, labels, rows, skipped, files };
}

async function readColumns(
  name: string,
  files: string[],
  m: ColumnMap & { labelColumns: string[]; labelNames: string[] },
  extraRequired: string[] = [],
  read: ReadOptions = {},
): Promise<RawDataset> {
  const rows: Annotation[] = [];
  const skipped = { emptyText: 0, noPositive: 0 };
  for (const file of files) {
    for await (const r of readRecords(file, [m.text, m.annotator, m.item, ...m.labelColumns, ...extraRequired], {
      delimiter: m.delimiter,
      ...read,
    })) {
      const where = `${file}:${r.line}`;
      const text = r.get(m.text);
      const labels = Uint8Array.from(m.labelColumns, (c) => bit(r.get(c), where, c));
      if (!text.trim()) {
        skipped.emptyText++;
        continue;
      }
      rows.push({ item: r.get(m.item), text, annotator: r.get(m.annotator), labels, source: where });
    }
  }
  return finish(name, m.labelNames, rows, skipped, files);
}

/** The official goemotions_{1,2,3}.csv files (one row per rater). Labels in alphabetical order. */
export function readGoEmotions(files: string[], read: ReadOptions = {}): Promise<RawDataset> {
  return readColumns(
    'goemotions',
    files,
    { text: 'text', annotator: 'rater_id', item: 'id', labelColumns: GOEMOTIONS_LABELS, labelNames: GOEMOTIONS_LABELS },
    ['example_very_unclear'],
    read,
  );
}

/** unhealthy_full.csv (one row per judgement). */
export function readUnhealthy(files: string[], read: ReadOptions = {}): Promise<RawDataset> {
  return readColumns(
    'unhealthy',
    files,
    { text: 'comment', annotator: '_worker_id', item: '_unit_id', labelColumns: UNHEALTHY_LABELS, labelNames: UNHEALTHY_LABELS },
    [],
    read,
  );
}

/** Any CSV/TSV/JSONL multi-annotator file through a column map. */
export async function readCustom(name: string, files: string[], m: ColumnMap, read: ReadOptions = {}): Promise<RawDataset> {
  if (typeof m !== 'object' || m === null || Array.isArray(m))
    throw new ConfigError('custom dataset: the column map must be a JSON object');
  if (m.labelColumns)
    return readColumns(name, files, { ...m, labelColumns: m.labelColumns, labelNames: m.labelNames ?? m.labelColumns }, [], read);
  const listCol = m.labelList ?? m.annotationList;
  if (!listCol) throw new FormatError(`${name}: the column map needs labelColumns, labelList, or annotatorList + annotationList`);
  const raw: { item: string; text: string; annotator: string; names: string[]; source: string }[] = [];
  const skipped = { emptyText: 0, noPositive: 0 };
  const split = new Map<string, string>();
  const list = (v: unknown, where: string, col: string): string[] => {
    if (Array.isArray(v)) return v.map(String);
    const s = String(v ?? '').trim();
    if (s.startsWith('[')) {
      try {
        return (JSON.parse(s) as unknown[]).map(String);
      } catch {
        throw new FormatError(`${where}: '${col}' is not a JSON list: ${s}`);
      }
    }
    return s
      ? s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
      : [];
  };
  const named = (v: string) => m.valueNames?.[v] ?? v;
  const push = (get: (c: string) => unknown, where: string, key?: string) => {
    const text = String(get(m.text) ?? '');
    if (!text.trim()) {
      skipped.emptyText++;
      return;
    }
    const item = m.item === '$key' && key !== undefined ? key : get(m.item);
    if (item === undefined) throw new FormatError(`${where}: missing field '${m.item}'`);
    if (m.splitField) split.set(String(item), String(get(m.splitField) ?? ''));
    if (m.annotatorList) {
      const anns = list(get(m.annotatorList), where, m.annotatorList),
        vals = list(get(listCol), where, listCol);
      if (anns.length !== vals.length) throw new FormatError(`${where}: ${anns.length} annotators but ${vals.length} annotations`);
      anns.forEach((a, i) => raw.push({ item: String(item), text, annotator: a, names: [named(vals[i])], source: where }));
      return;
    }
    if (get(m.annotator) === undefined) throw new FormatError(`${where}: missing field '${m.annotator}'`);
    raw.push({
      item: String(item),
      text,
      annotator: String(get(m.annotator)),
      names: list(get(listCol), where, listCol).map(named),
      source: where,
    });
  };
  for (const file of files) {
    if (file.endsWith('.jsonl')) {
      for await (const r of readJsonl(file, read)) push((c) => r.value[c], `${file}:${r.line}`);
    } else if (file.endsWith('.json')) {
      let data: unknown;
      let text = '';
      for await (const chunk of readUtf8(file, read)) text += chunk;
      try {
        data = JSON.parse(text);
      } catch (e) {
        throw new FormatError(`${file}: ${(e as Error).message}`);
      }
      if (typeof data !== 'object' || data === null) throw new FormatError(`${file}: expected a JSON list or object of records`);
      const entries: [string, unknown][] = Array.isArray(data) ? data.map((v, i) => [String(i), v]) : Object.entries(data as object);
      // '$key' items are the record keys, scoped by file (split files reuse keys)
      for (const [k, v] of entries) push((c) => (v as Record<string, unknown>)[c], `${file}: record ${k}`, `${path.basename(file)}#${k}`);
    } else {
      const required = [m.text, m.item, listCol, ...(m.annotatorList ? [m.annotatorList] : [m.annotator])];
      for await (const r of readRecords(file, required, { delimiter: m.delimiter, ...read })) push((c) => r.get(c), `${file}:${r.line}`);
    }
  }
  const names = m.labelNames ?? [...new Set(raw.flatMap((r) => r.names))].sort();
  const index = new Map(names.map((n, i) => [n, i]));
  const rows = raw.map((r) => {
    const labels = new Uint8Array(names.length);
    for (const n of r.names) {
      const i = index.get(n);
      if (i === undefined) throw new FormatError(`${r.source}: unknown label '${n}' (labels: ${names.join(', ')})`);
      labels[i] = 1;
    }
    return { item: r.item, text: r.text, annotator: r.annotator, labels, source: r.source };
  });
  const ds = finish(name, names, rows, skipped, files);
  if (m.splitField) customSplits.set(ds, split);
  return ds;
}
