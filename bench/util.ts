// Shared bench plumbing: tinybench timing (median ms) and result rows with ratios.
import { Bench } from 'tinybench';

export interface Row {
  suite: string;
  case: string;
  metric: string;      // unit of `value`, e.g. GFLOP/s
  value: number;
  baseline?: string;   // what the peer is
  baselineValue?: number;
  peak?: number;       // machine peak in the same unit, where one applies
}

/** Median wall time (ms) of fn over tinybench's sampling window. */
export async function medianMs(name: string, fn: () => void, time = 600): Promise<number> {
  const bench = new Bench({ time, warmupTime: 100, iterations: 3 });
  bench.add(name, fn);
  await bench.run();
  const r = bench.tasks[0].result as { latency?: { p50: number } ; error?: unknown };
  if (!r || !r.latency) throw new Error(`bench ${name} failed: ${String((r as { error?: unknown })?.error)}`);
  return r.latency.p50;
}

export function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function randomF32(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return a;
}
