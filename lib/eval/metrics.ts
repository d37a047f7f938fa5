// Multi-label metrics: per-label F1 (0 where a label never occurs nor is predicted), macro and
// micro F1, subset accuracy, per-user macro F1, and the paper's gain.

export interface Metrics {
  f1Macro: number;
  f1Micro: number;
  subsetAccuracy: number;
  perLabel: Record<string, { f1: number; precision: number; recall: number; support: number }>;
  perUser: { mean: number; median: number; min: number; worst: { user: string; f1Macro: number; rows: number }[] };
  rows: number;
}

/** truth/pred: 0/1 per label per row. */
export function multilabelMetrics(labels: string[], truth: Uint8Array[], pred: Uint8Array[], users?: string[]): Metrics {
  const L = labels.length;
  const tp = new Array(L).fill(0),
    fp = new Array(L).fill(0),
    fn = new Array(L).fill(0);
  let exact = 0;
  truth.forEach((t, r) => {
    const p = pred[r];
    let same = true;
    for (let i = 0; i < L; i++) {
      if (t[i] && p[i]) tp[i]++;
      else if (p[i]) fp[i]++;
      else if (t[i]) fn[i]++;
      if (!!t[i] !== !!p[i]) same = false;
    }
    if (same) exact++;
  });
  const f1 = (a: number, b: number, c: number) => (2 * a + b + c === 0 ? 0 : (2 * a) / (2 * a + b + c));
  const perLabel: Metrics['perLabel'] = {};
  labels.forEach((l, i) => {
    perLabel[l] = {
      f1: f1(tp[i], fp[i], fn[i]),
      precision: tp[i] + fp[i] ? tp[i] / (tp[i] + fp[i]) : 0,
      recall: tp[i] + fn[i] ? tp[i] / (tp[i] + fn[i]) : 0,
      support: tp[i] + fn[i],
    };
  });
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  const f1Macro = L ? sum(labels.map((l) => perLabel[l].f1)) / L : 0;
  const f1Micro = f1(sum(tp), sum(fp), sum(fn));
  let perUser: Metrics['perUser'] = { mean: 0, median: 0, min: 0, worst: [] };
  if (users) {
    const by = new Map<string, number[]>();
    users.forEach((u, r) => {
      if (!by.has(u)) by.set(u, []);
      by.get(u)!.push(r);
    });
    const scores = [...by.entries()]
      .map(([user, rs]) => ({
        user,
        rows: rs.length,
        f1Macro: multilabelMetrics(
          labels,
          rs.map((r) => truth[r]),
          rs.map((r) => pred[r]),
        ).f1Macro,
      }))
      .sort((a, b) => a.f1Macro - b.f1Macro || (a.user < b.user ? -1 : 1));
    const v = scores.map((s) => s.f1Macro);
    const mid = v.length >> 1;
    perUser = {
      mean: sum(v) / (v.length || 1),
      median: v.length ? (v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2) : 0,
      min: v[0] ?? 0,
      worst: scores.slice(0, 5),
    };
  }
  return { f1Macro, f1Micro, subsetAccuracy: truth.length ? exact / truth.length : 0, perLabel, perUser, rows: truth.length };
}

/** The paper's gain of a personalized setting over its baseline, in percent. */
export function gain(personalized: number, baseline: number): number {
  return baseline === 0 ? NaN : ((personalized - baseline) / baseline) * 100;
}
