// Attention: causal with GQA, right padding and a sliding window; bidirectional with a score bias (T5).
import { attentionForward, attentionBackward } from '../../lib/ops/index.js';
import { Draw, f32, host, type OpCase, type Inputs } from './case.js';

const d = new Draw(404);
interface A {
  B: number;
  T: number;
  Tk: number;
  Hq: number;
  Hkv: number;
  D: number;
  window: number;
  causal: boolean;
  bias: boolean;
  lens: number[];
}
function reference(x: Inputs, a: A) {
  const q = f32(x.q),
    k = f32(x.k),
    v = f32(x.v),
    m = x.mask ? (x.mask.data as BigInt64Array) : null,
    bias = x.bias ? f32(x.bias) : null;
  const { B, T, Tk, Hq, Hkv, D } = a,
    out = new Float64Array(q.length),
    scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++)
      for (let t = 0; t < T; t++) {
        const hk = Math.floor(h / (Hq / Hkv)),
          s: number[] = [],
          keys: number[] = [];
        for (let j = 0; j < Tk; j++) {
          if (m && m[b * Tk + j] === 0n) continue;
          if (a.causal && (j > t || (a.window > 0 && t - j >= a.window))) continue;
          let dot = 0;
          for (let i = 0; i < D; i++) dot += q[((b * T + t) * Hq + h) * D + i] * k[((b * Tk + j) * Hkv + hk) * D + i];
          s.push(dot * scale + (bias ? bias[(h * T + t) * Tk + j] : 0));
          keys.push(j);
        }
        const mx = Math.max(...s),
          e = s.map((z) => Math.exp(z - mx)),
          z = e.reduce((p, c) => p + c, 0);
        for (let i = 0; i < D; i++) {
          let acc = 0;
          keys.forEach((j, n) => (acc += (e[n] / z) * v[((b * Tk + j) * Hkv + hk) * D + i]));
          out[((b * T + t) * Hq + h) * D + i] = acc;
        }
      }
  return { out };
}
const shapes: A[] = [
  { B: 2, T: 6, Tk: 6, Hq: 4, Hkv: 2, D: 8, window: 0, causal: true, bias: false, lens: [6, 4] },
  { B: 1, T: 9, Tk: 9, Hq: 2, Hkv: 1, D: 16, window: 4, causal: true, bias: false, lens: [9] },
  { B: 2, T: 5, Tk: 7, Hq: 2, Hkv: 2, D: 8, window: 0, causal: false, bias: true, lens: [7, 5] },
  { B: 1, T: 40, Tk: 40, Hq: 2, Hkv: 2, D: 64, window: 0, causal: true, bias: false, lens: [40] },
];
export const cases: OpCase[] = shapes.map((a): OpCase => ({
  family: 'attention',
  op: 'attention',
  name: `B${a.B} T${a.T}→${a.Tk} H${a.Hq}/${a.Hkv} D${a.D}${a.window ? ` window ${a.window}` : ''}${a.causal ? '' : ' bidirectional + bias'}`,
  dtypes: ['bf16'],
  tol: 2e-5,
  backendTol: 2e-4,
  keepF32: ['bias'],
  inputs: () => ({
    q: host(d.randn(a.B * a.T * a.Hq * a.D), [a.B, a.T, a.Hq, a.D]),
    k: host(d.randn(a.B * a.Tk * a.Hkv * a.D), [a.B, a.Tk, a.Hkv, a.D]),
    v: host(d.randn(a.B * a.Tk * a.Hkv * a.D), [a.B, a.Tk, a.Hkv, a.D]),
    mask: host(
      BigInt64Array.from({ length: a.B * a.Tk }, (_, i) => (i % a.Tk < a.lens[Math.floor(i / a.Tk)] ? 1n : 0n)),
      [a.B, a.Tk],
    ),
    ...(a.bias ? { bias: host(d.randn(a.Hq * a.T * a.Tk), [a.Hq, a.T, a.Tk]) } : {}),
  }),
  forward: (t) => {
    const r = attentionForward(t.q, t.k, t.v, { mask: t.mask, window: a.window, causal: a.causal, bias: t.bias ?? null });
    return { out: r.out, lse: r.lse };
  },
  reference: (x) => reference(x, a),
  backward: (t, o, dy) => {
    const g = attentionBackward(dy, t.q, t.k, t.v, o.out, o.lse, {
      mask: t.mask,
      window: a.window,
      causal: a.causal,
      bias: t.bias ?? null,
    });
    return { q: g.dq, k: g.dk, v: g.dv };
  },
  grad: { output: 'out', wrt: ['q', 'k', 'v'] },
}));
