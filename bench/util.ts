// Shared bench plumbing: tinybench timing (median ms) and result rows with ratios.
import fs from 'node:fs';
import { Bench } from 'tinybench';
import { info, getMatmulPrecision } from '../lib/index.js';

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

/**
 * A row of the GPU table: ours, the peer, their ratio and the goal (met: null = no goal or no
 * peer). `matmul` (filled in) says which matmul path ran: what a ratio means depends on it.
 */
export interface GpuRow {
  case: string;
  ours: string;
  peer: string;
  ratio: number;
  goal: string;
  met: boolean | null;
  /** the unit of `oursValue` / `peerValue` where the row has numbers (GB/s, ms, tokens/s, …) */
  unit?: string;
  oursValue?: number;
  peerValue?: number;
  peerName?: string;
  matmul?: string;
  /** the attention path under that precision: tensor cores, or the f32 kernels */
  attention?: string;
}

/** The matmul path ops take now: our f32 kernel, our tensor-core kernel, or cuBLASLt. */
export function matmulPath(): string {
  const p = getMatmulPrecision();
  if (p === 'highest') return 'ours (f32)';
  const lt = info().cuda.cublasLt;
  return lt.enabled ? `cuBLASLt ${p} (ours below its sizes)` : `ours (tensor cores, ${p}; cuBLASLt: ${lt.reason || 'off'})`;
}

let sink: string | null = null;
/**
 * Rows go to `file` as they are measured (rewritten atomically after each): a device call cut short
 * keeps every row it measured. `meta` (date, card, driver, commit, call) is written when the file is new.
 */
export function gpuSink(file: string | undefined, meta: Record<string, unknown> = {}): void {
  sink = file ?? null;
  if (sink && !fs.existsSync(sink)) writeJson(sink, { ...meta, rows: [] });
}
/** Merges `fields` into the sink's JSON (profiles, the model's facts). */
export function gpuSinkMerge(fields: Record<string, unknown>): void {
  if (!sink) return;
  writeJson(sink, { ...JSON.parse(fs.readFileSync(sink, 'utf8')), ...fields });
}
function writeJson(file: string, v: unknown): void {
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(v, null, 2) + '\n');
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * The attention path ops take now: tensor cores (matmul precision bf16/f16, head sizes ≤ 128) or the
 * f32 kernels; at decoding (one query row) the split-over-keys kernel unless PLF_ATTENTION_DECODE=0.
 */
export function attentionPath(): string {
  const decode =
    process.env.PLF_ATTENTION_DECODE === '0' ? '; decoding: general kernels (PLF_ATTENTION_DECODE=0)' : '; decoding: split over keys';
  if (getMatmulPrecision() === 'highest') return `ours (f32${decode})`;
  return process.env.PLF_ATTENTION_TC === '0'
    ? `ours (f32; tensor cores off by PLF_ATTENTION_TC=0${decode})`
    : `ours (tensor cores, ${getMatmulPrecision()}${decode})`;
}

/** Keeps a GPU row, prints it as a table line and (with a sink) writes it out at once. */
export function gpuRow(rows: GpuRow[], r: GpuRow): void {
  r.matmul ??= matmulPath();
  r.attention ??= attentionPath();
  rows.push(r);
  if (sink) {
    const j = JSON.parse(fs.readFileSync(sink, 'utf8')) as { rows: GpuRow[] };
    j.rows.push(r);
    writeJson(sink, j);
  }
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
