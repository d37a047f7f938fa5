// The fuzz campaign: every target's cases run in child processes (two at a time); a child that
// crashes or stops making progress is counted against the case it was running and a new child
// resumes after it. Seeded and replayable: `--seed S --replay TARGET:I` reruns one case.
//   node dist/test/fuzz/campaign.js [--cases N] [--seed S] [--targets a,b] [--parallel P] [--replay T:I]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS } from './targets.js';

export interface TargetStats {
  target: string;
  inputs: number;
  accepted: number;
  typed: number;
  untyped: number;
  crashes: number;
  hangs: number;
  unnamed: number;
  /** the first findings: case number and what happened (replay with --seed S --replay target:case) */
  findings: string[];
  /** native ops: cases per op */
  ops?: Record<string, number>;
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'child.js');

/** Runs cases [0, cases) of one target; hangMs: a case without a result after this long is a hang. */
export async function fuzzTarget(name: string, cases: number, seed: number, hangMs = 10_000, first = 0): Promise<TargetStats> {
  const st: TargetStats = { target: name, inputs: 0, accepted: 0, typed: 0, untyped: 0, crashes: 0, hangs: 0, unnamed: 0, findings: [] };
  const progress = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'plf-fuzz-progress-')), 'progress.txt');
  const finding = (s: string) => {
    if (st.findings.length < 8) st.findings.push(s);
  };
  let next = first;
  while (next < first + cases) {
    fs.writeFileSync(progress, '');
    const child = spawn(process.execPath, [CHILD, name, String(seed), String(next), String(first + cases), progress], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr = (stderr + String(d)).slice(-2000);
    });
    let hung = false,
      begun = -1,
      since = Date.now(),
      seen = 0;
    const watch = setInterval(() => {
      const text = fs.readFileSync(progress, 'utf8');
      if (text.length !== seen) {
        seen = text.length;
        since = Date.now();
      }
      const last = text.trimEnd().split('\n').pop() ?? '';
      begun = last.startsWith('B ') ? Number(last.slice(2)) : -1;
      if (begun >= 0 && Date.now() - since > hangMs) {
        hung = true;
        child.kill('SIGKILL');
      }
    }, 100);
    const code = await new Promise<number | string>((r) => child.on('exit', (c, sig) => r(sig ?? c ?? 0)));
    clearInterval(watch);
    let open = -1;
    for (const line of fs.readFileSync(progress, 'utf8').split('\n')) {
      if (line.startsWith('B ')) {
        open = Number(line.slice(2));
        continue;
      }
      const m = /^R (\d+) (\w+)(?: op=(\S+))? ?(.*)$/.exec(line);
      if (!m) continue;
      open = -1;
      const i = Number(m[1]),
        outcome = m[2] as 'accepted' | 'typed' | 'untyped' | 'unnamed';
      st.inputs++;
      st[outcome]++;
      if (m[3]) (st.ops ??= {})[m[3]] = (st.ops[m[3]] ?? 0) + 1;
      if (outcome === 'untyped' || outcome === 'unnamed') finding(`case ${i}: ${outcome}: ${m[4]}`);
      next = i + 1;
    }
    if (open >= 0) {
      // the child died or hung inside case `open`
      st.inputs++;
      if (hung) {
        st.hangs++;
        finding(`case ${open}: hang (no result in ${hangMs} ms)`);
      } else {
        st.crashes++;
        finding(`case ${open}: crash (${code}) ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      }
      next = open + 1;
    } else if (code !== 0) {
      throw new Error(`fuzz child for ${name} failed outside any case (exit ${code}): ${stderr.trim()}`);
    }
  }
  fs.rmSync(path.dirname(progress), { recursive: true, force: true });
  return st;
}

/** Every named target with `cases` inputs each, `parallel` children at a time. */
export async function campaign(o: {
  cases: number | Record<string, number>;
  seed: number;
  targets?: string[];
  parallel?: number;
  hangMs?: number;
}): Promise<TargetStats[]> {
  const names = o.targets ?? TARGETS.map((t) => t.name);
  const out: TargetStats[] = new Array(names.length);
  let k = 0;
  const worker = async () => {
    while (k < names.length) {
      const i = k++;
      const n = typeof o.cases === 'number' ? o.cases : (o.cases[names[i]] ?? 1000);
      out[i] = await fuzzTarget(names[i], n, o.seed, o.hangMs);
    }
  };
  await Promise.all(Array.from({ length: o.parallel ?? 2 }, worker));
  return out;
}

export function table(stats: TargetStats[]): string {
  const cols = ['target', 'inputs', 'accepted', 'typed', 'untyped', 'crashes', 'hangs', 'unnamed'] as const;
  const rows = [cols.join(' | '), cols.map(() => '---').join(' | '), ...stats.map((s) => cols.map((c) => String(s[c])).join(' | '))];
  const ops = stats.find((s) => s.ops)?.ops;
  if (ops) rows.push('', `native ops covered: ${Object.keys(ops).length} (min ${Math.min(...Object.values(ops))} cases per op)`);
  for (const s of stats) for (const f of s.findings) rows.push(`${s.target}: ${f}`);
  return rows.map((r) => (r && !r.includes(': ') ? `| ${r} |` : r)).join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const arg = (k: string) => {
    const i = process.argv.indexOf(`--${k}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const seed = Number(arg('seed') ?? 1);
  const replay = arg('replay');
  const t0 = Date.now();
  let stats: TargetStats[];
  if (replay) {
    const [t, i] = [replay.slice(0, replay.lastIndexOf(':')), Number(replay.slice(replay.lastIndexOf(':') + 1))];
    stats = [await fuzzTarget(t, 1, seed, 10_000, i)];
  } else {
    stats = await campaign({
      cases: Number(arg('cases') ?? 20000),
      seed,
      targets: arg('targets')?.split(','),
      parallel: Number(arg('parallel') ?? os.availableParallelism()),
    });
  }
  console.log(table(stats));
  console.log(`seed ${seed}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const bad = stats.reduce((n, s) => n + s.untyped + s.crashes + s.hangs + s.unnamed, 0);
  process.exit(bad ? 1 : 0);
}
