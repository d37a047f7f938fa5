// RMSNorm and LayerNorm.
import { rmsnormForward, rmsnormBackward, layernormForward, layernormBackward } from '../../lib/ops/index.js';
import { Draw, f32, host, type OpCase, type Inputs } from './case.js';

const d = new Draw(202);
function rms(x: Inputs, rows: number, n: number, eps: number) {
  const a = f32(x.x),
    w = f32(x.w),
    y = new Float64Array(a.length);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += a[r * n + i] ** 2;
    const s = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) y[r * n + i] = w[i] * a[r * n + i] * s;
  }
  return y;
}
function ln(x: Inputs, rows: number, n: number, eps: number) {
  const a = f32(x.x),
    w = f32(x.w),
    b = f32(x.b),
    y = new Float64Array(a.length);
  for (let r = 0; r < rows; r++) {
    let mu = 0,
      v = 0;
    for (let i = 0; i < n; i++) mu += a[r * n + i] / n;
    for (let i = 0; i < n; i++) v += (a[r * n + i] - mu) ** 2 / n;
    for (let i = 0; i < n; i++) y[r * n + i] = ((a[r * n + i] - mu) / Math.sqrt(v + eps)) * w[i] + b[i];
  }
  return y;
}

export const cases: OpCase[] = [
  ...[
    [3, 7],
    [5, 1000],
  ].map(([R, N]): OpCase => ({
    family: 'norm',
    op: 'rmsnorm',
    name: `[${R},${N}]`,
    dtypes: ['bf16'],
    keepF32: ['w'],
    inputs: () => ({ x: host(d.randn(R * N), [R, N]), w: host(d.randn(N), [N]) }),
    forward: (t) => {
      const r = rmsnormForward(t.x, t.w, 1e-6);
      return { y: r.y, rstd: r.rstd };
    },
    reference: (x) => ({ y: rms(x, R, N, 1e-6) }),
    backward: (t, o, dy) => {
      const r = rmsnormBackward(dy, t.x, t.w, o.rstd);
      return { x: r.dx, w: r.dw! };
    },
    grad: { output: 'y', wrt: ['x', 'w'] },
  })),
  ...[
    [2, 3],
    [4, 515],
  ].map(([R, N]): OpCase => ({
    family: 'norm',
    op: 'layernorm',
    name: `[${R},${N}]`,
    dtypes: ['bf16'],
    keepF32: ['w', 'b'],
    inputs: () => ({ x: host(d.randn(R * N), [R, N]), w: host(d.randn(N), [N]), b: host(d.randn(N), [N]) }),
    forward: (t) => {
      const r = layernormForward(t.x, t.w, t.b, 1e-5);
      return { y: r.y, mean: r.mean, rstd: r.rstd };
    },
    reference: (x) => ({ y: ln(x, R, N, 1e-5) }),
    backward: (t, o, dy) => {
      const r = layernormBackward(dy, t.x, t.w, o.mean, o.rstd);
      return { x: r.dx, w: r.dw!, b: r.db! };
    },
    grad: { output: 'y', wrt: ['x', 'w', 'b'] },
  })),
];
