// Shared-CPU speed (issue 17): OpenMP's waiting policy (active: threads spin between parallel
// regions; passive: they sleep) on decoding and a training step, on a quiet machine and with every
// core kept busy by a competing process — each measurement in a fresh process, since the policy is
// read when the addon loads. The default (defaultOmpPolicy in lib/native/loader.ts) follows these numbers.
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Row } from './util.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'omp-child.js');

/** OpenMP's settings to compare: libgomp's own default (spin ~300k iterations, then sleep), spin
 * forever, sleep at once, and a short spin */
const POLICIES: Record<string, Record<string, string>> = {
  'libgomp default': {},
  'OMP_WAIT_POLICY=active': { OMP_WAIT_POLICY: 'active' },
  'OMP_WAIT_POLICY=passive': { OMP_WAIT_POLICY: 'passive' },
  'GOMP_SPINCOUNT=10000': { GOMP_SPINCOUNT: '10000' },
};

function measure(name: string): { decodeMs: number; stepMs: number } {
  const env = { ...process.env, ...POLICIES[name] };
  // the child must see exactly this policy: not the loader's default, not the caller's
  if (!('OMP_WAIT_POLICY' in POLICIES[name])) env.OMP_WAIT_POLICY = '';
  if (!('GOMP_SPINCOUNT' in POLICIES[name])) delete env.GOMP_SPINCOUNT;
  const r = spawnSync(process.execPath, [child], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`omp bench child (${name}) failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** one busy loop per core, for the length of fn */
function underLoad<T>(fn: () => T): T {
  const hogs = Array.from({ length: os.availableParallelism() }, () =>
    spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 600000) {}'], { stdio: 'ignore' }),
  );
  try {
    return fn();
  } finally {
    for (const h of hogs) h.kill('SIGKILL');
  }
}

export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [load, wrap] of [
    ['quiet', <T>(f: () => T) => f()],
    ['every core busy', underLoad],
  ] as const) {
    const got = Object.fromEntries(Object.keys(POLICIES).map((p) => [p, wrap(() => measure(p))]));
    for (const k of ['decodeMs', 'stepMs'] as const)
      for (const p of Object.keys(POLICIES).slice(1))
        rows.push({
          suite: 'omp',
          case: `${k === 'decodeMs' ? 'decode 8 tokens' : 'QLoRA step 4×64'} (small Llama), ${load}, ${p}`,
          metric: 'ms',
          value: got[p][k],
          baseline: 'libgomp default',
          baselineValue: got['libgomp default'][k],
        });
  }
  return rows;
}
