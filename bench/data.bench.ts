// Data prep at official scale: a 211,225-row GoEmotions file resampled from the real sample (fresh
// item ids, official split proportions), `prepare` timed with its peak RSS in a child process,
// and Mistral-tokenizer throughput on the resulting prompts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readDelimited, loadTokenizer, renderPrompt, TEMPLATES } from '../lib/index.js';
import { goemotionsSplits } from '../lib/data/splits.js';
import { type Row } from './util.js';

const OFFICIAL_ROWS = 211225;

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function run(): Promise<Row[]> {
  const ge = path.resolve('..', 'shared', 'data', 'goemotions');
  const sample = path.join(ge, 'goemotions_1.prefix-sample.csv');
  if (!fs.existsSync(sample)) return [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-bench-data-'));
  try {
    const rows: string[][] = [];
    let header: string[] = [];
    for await (const r of readDelimited(sample)) {
      if (!header.length) header = r.fields;
      else rows.push(r.fields);
    }
    const idCol = header.indexOf('id');
    const membership = await goemotionsSplits(path.join(ge, 'official_split_aggregated'));
    const out = fs.createWriteStream(path.join(dir, 'goemotions_full.csv'));
    out.write(header.join(',') + '\n');
    const splitLines: Record<string, string[]> = { train: [], dev: [], test: [] };
    const seen = new Set<string>();
    for (let i = 0; i < OFFICIAL_ROWS; i++) {
      const copy = Math.floor(i / rows.length),
        src = rows[i % rows.length];
      const id = `c${copy}_${src[idCol]}`;
      const f = [...src];
      f[idCol] = id;
      out.write(f.map(csvField).join(',') + '\n');
      if (!seen.has(id)) {
        seen.add(id);
        const m = membership.get(src[idCol]);
        const s = m ? (m.has('train') ? 'train' : m.has('test') ? 'test' : 'dev') : ['train', 'dev', 'test'][copy % 3];
        splitLines[s].push(`${csvField(src[0])}\t0\t${id}`);
      }
    }
    await new Promise<void>((res) => out.end(res));
    fs.mkdirSync(path.join(dir, 'splits'));
    for (const s of ['train', 'dev', 'test']) fs.writeFileSync(path.join(dir, 'splits', `${s}.tsv`), splitLines[s].join('\n') + '\n');
    const child = path.join(dir, 'run.mjs');
    fs.writeFileSync(
      child,
      `import fs from 'node:fs';
import { runPrepare } from ${JSON.stringify(path.resolve('dist/lib/data/run.js'))};
const t = performance.now();
const r = await runPrepare({ dataset: 'goemotions', input: [${JSON.stringify(path.join(dir, 'goemotions_full.csv'))}], splits: ${JSON.stringify(path.join(dir, 'splits'))}, out: ${JSON.stringify(path.join(dir, 'out'))} });
// VmHWM is this process's own peak; getrusage's maxRSS keeps the parent's from before exec on Linux
const hwm = (() => { try { return Number(/VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024; } catch { return process.resourceUsage().maxRSS * 1024; } })();
console.log(JSON.stringify({ s: (performance.now() - t) / 1e3, rss: hwm, counts: r.manifest.counts }));`,
    );
    const res = JSON.parse(execFileSync(process.execPath, [child], { encoding: 'utf8' }).trim().split('\n').pop()!);
    const rowsOut: Row[] = [
      {
        suite: 'data',
        case: `prepare ${OFFICIAL_ROWS.toLocaleString('en')} GoEmotions rows (${res.counts.annotators} annotators kept)`,
        metric: 's',
        value: res.s,
        baseline: 'target 20 s',
      },
      { suite: 'data', case: 'prepare peak RSS (whole process)', metric: 'MiB', value: res.rss / 2 ** 20, baseline: 'target 1024 MiB' },
    ];
    const tokDir = path.resolve('..', 'shared', 'fixtures', 'tokenizers', 'mistral-7b-v0.1');
    if (fs.existsSync(tokDir)) {
      const tok = loadTokenizer(tokDir);
      const prompts = rows.slice(0, 2000).map((r, i) => renderPrompt(TEMPLATES.goemotions, 'LM-P', { text: r[0], user: String(i % 50) }));
      tok.encode(prompts[0]);
      const t = performance.now();
      let tokens = 0;
      for (const p of prompts) tokens += tok.encode(p).length;
      const sec = (performance.now() - t) / 1e3;
      rowsOut.push({
        suite: 'data',
        case: `Mistral tokenizer, LM-P prompts (${Math.round(tokens / prompts.length)} tokens each)`,
        metric: 'prompts/s',
        value: prompts.length / sec,
        baseline: `${Math.round(tokens / sec).toLocaleString('en')} tokens/s`,
      });
    }
    return rowsOut;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
