// npm run bench: every suite, one table (ratios against the peer measured in the same run).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { info } from '../lib/index.js';
import { fmt, type Row } from './util.js';
import * as nf4 from './nf4.bench.js';
import * as linear from './linear.bench.js';
import * as optim from './optim.bench.js';
import * as model from './model.bench.js';
import * as data from './data.bench.js';
import * as ops from './ops.bench.js';
import * as omp from './omp.bench.js';
import * as serve from './serve.bench.js';
import * as queue from './queue.bench.js';
import * as parquet from './parquet.bench.js';

const suites: Record<string, { run: () => Promise<Row[]> }> = { ops, omp, nf4, linear, optim, model, data, parquet, serve, queue };
const only = process.argv.slice(2);
const rows: Row[] = [];
for (const [name, s] of Object.entries(suites)) {
  if (only.length && !only.includes(name)) continue;
  process.stderr.write(`bench: ${name}…\n`);
  rows.push(...(await s.run()));
}
const i = info();
const machine = `${os.cpus()[0]?.model ?? 'cpu'}, ${i.build.threads} threads, ${i.build.simd}`;
console.log(`\nplf-native ${i.version} bench — ${machine} — ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| case | value | peer in the same run (ratio) or note | of FMA peak |');
console.log('|---|---|---|---|');
for (const r of rows) {
  const vs = r.baselineValue ? `${fmt(r.value / r.baselineValue)}× (${r.baseline} ${fmt(r.baselineValue)})` : (r.baseline ?? '');
  const pk = r.peak ? `${((100 * r.value) / r.peak).toFixed(0)}% of ${fmt(r.peak)}` : '';
  console.log(`| ${r.case} | ${fmt(r.value)} ${r.metric} | ${vs} | ${pk} |`);
}
// `plf-native bench` runs this from the package folder: the file goes where the user asked for the bench
const file = path.resolve(process.env.PLF_BENCH_OUT ?? 'bench-results.json');
fs.writeFileSync(file, JSON.stringify({ machine, date: new Date().toISOString(), rows }, null, 2));
console.log(`\n(written to ${file})`);
