// Where the time goes: every native op called while `fn` runs is timed between two device
// synchronizations (so GPU time is attributed to the op that queued it) and summed per op name.
// The synchronizations slow the run down; use it to find the expensive ops, not to time the whole.
import { addon } from '../native/addon.js';

export interface OpTime {
  op: string;
  calls: number;
  ms: number;
  share: number;
  /** bytes converted to stage 16-bit tensors through f32 for this op (read 2 + write 4 per element in, 4 + 2 out) */
  stagedBytes: number;
  /** calls whose activations mixed dtypes: CUDA stages those (a model should give each op one dtype) */
  mixed: number;
}

export function profileOps<T>(fn: () => T): { result: T; ops: OpTime[]; totalMs: number } {
  addon.profile_start();
  let table: Record<string, { calls: number; ms: number; stagedBytes: number; mixed: number }>;
  let result: T;
  try {
    result = fn();
  } finally {
    table = addon.profile_stop();
  }
  const totalMs = Object.values(table).reduce((a, t) => a + t.ms, 0);
  const ops = Object.entries(table)
    .map(([op, t]) => ({
      op,
      calls: t.calls,
      ms: t.ms,
      share: totalMs ? t.ms / totalMs : 0,
      stagedBytes: t.stagedBytes,
      mixed: t.mixed,
    }))
    .sort((a, b) => b.ms - a.ms);
  return { result, ops, totalMs };
}

/** The `top` most expensive ops as aligned text lines. */
export function formatProfile(ops: OpTime[], top = 15): string {
  return ops
    .slice(0, top)
    .map(
      (o) =>
        `${o.op.padEnd(24)} ${String(o.calls).padStart(7)} calls ${o.ms.toFixed(2).padStart(10)} ms ${(100 * o.share).toFixed(1).padStart(5)}%` +
        (o.stagedBytes ? `  staged ${(o.stagedBytes / 2 ** 20).toFixed(1)} MiB` : '') +
        (o.mixed ? `  ${o.mixed} mixed-dtype calls` : ''),
    )
    .join('\n');
}
