// Plain texts for pretraining: a .txt file gives one text per non-empty line, .jsonl one per
// object (its text field), .csv/.tsv one per row (its text column). Errors name file and line.
import path from 'node:path';
import { ConfigError, FormatError } from '../errors.js';
import { readJsonl, readRecords, readUtf8 } from './csv.js';

export async function readTexts(files: string[], o: { textColumn?: string } = {}): Promise<{ file: string; texts: string[] }[]> {
  const col = o.textColumn ?? 'text';
  const out: { file: string; texts: string[] }[] = [];
  for (const file of files) {
    const ext = path.extname(file).toLowerCase();
    const texts: string[] = [];
    if (ext === '.jsonl' || ext === '.ndjson') {
      for await (const { line, value } of readJsonl(file)) {
        const t = value[col];
        if (typeof t !== 'string') throw new FormatError(`${file}:${line}: '${col}' must be a string (--text-column names the field)`);
        if (t.trim()) texts.push(t);
      }
    } else if (ext === '.csv' || ext === '.tsv') {
      for await (const r of readRecords(file, [col], { delimiter: ext === '.tsv' ? '\t' : ',' })) {
        const t = r.get(col);
        if (t.trim()) texts.push(t);
      }
    } else if (ext === '.txt' || ext === '') {
      let rest = '';
      for await (const chunk of readUtf8(file)) {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop()!;
        for (const l of lines) if (l.trim()) texts.push(l.replace(/\r$/, ''));
      }
      if (rest.trim()) texts.push(rest.replace(/\r$/, ''));
    } else throw new ConfigError(`${file}: unknown text format '${ext}' (use .txt, .jsonl, .csv or .tsv)`);
    out.push({ file, texts });
  }
  return out;
}
