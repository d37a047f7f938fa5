// Shared bench plumbing: tinybench timing (median ms) and result rows with ratios.
import { Bench } from 'tinybench';

export interface Row {
  suite: string;
  case: string;
  metric: string; // unit of `value`, e.g. GFLOP/s
  value: number;
  baseline?: string; // what the peer is
  baselineValue?: number;
  peak?: number; // machine peak in the same unit, where one applies
}

/** Median wall time (ms) of fn over tinybench's sampling window. */
export async function medianMs(name: string, fn: () => void, time = 600): Promise<number> {
  const bench = new Bench({ time, warmupTime: 100, iterations: 3 });
  bench.add(name, fn);
  await bench.run();
  const r = bench.tasks[0].result as { latency?: { p50: number }; error?: unknown };
  if (!r || !r.latency) throw new Error(`bench ${name} failed: ${String((r as { error?: unknown })?.error)}`);
  return r.latency.p50;
}

/** A row of the GPU table: ours, the peer, their ratio and the goal (met: null = no goal or no peer). */
export interface GpuRow {
  case: string;
  ours: string;
  peer: string;
  ratio: number;
  goal: string;
  met: boolean | null;
}

/** Keeps a GPU row and prints it as a table line. */
export function gpuRow(rows: GpuRow[], r: GpuRow): void {
  rows.push(r);
  console.log(
    `${r.case.padEnd(44)} ${r.ours.padEnd(18)} ${r.peer.padEnd(24)} ${fmt(r.ratio).padStart(7)}  ${r.goal}${r.met === null ? '' : r.met ? '  met' : '  not met'}`,
  );
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
