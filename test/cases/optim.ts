// AdamW (torch's formula, decoupled weight decay) over two parameters, one step after a few.
import { AdamW, Tensor } from '../../lib/ops/index.js';
import { Draw, f32, host, type OpCase } from './case.js';

const d = new Draw(1010);
const [lr, b1, b2, eps, wd, steps] = [1e-2, 0.9, 0.999, 1e-8, 0.01, 3];
export const cases: OpCase[] = [
  {
    family: 'optim',
    op: 'adamw',
    name: `2 params (37, 300), ${steps} steps`,
    tol: 1e-6,
    inputs: () => ({
      p0: host(d.randn(37), [37]),
      p1: host(d.randn(300), [300]),
      g0: host(d.randn(37), [37]),
      g1: host(d.randn(300), [300]),
    }),
    forward: (t) => {
      const p = [t.p0.clone(), t.p1.clone()];
      const opt = new AdamW(p, { lr, betas: [b1, b2], eps, weightDecay: wd });
      for (let s = 0; s < steps; s++) opt.stepWith([t.g0, t.g1]);
      opt.dispose();
      return { p0: p[0], p1: p[1] };
    },
    reference: (x) => {
      const out: Record<string, Float64Array> = {};
      for (const k of ['0', '1']) {
        const p = Float64Array.from(f32(x[`p${k}`])),
          g = f32(x[`g${k}`]),
          m = new Float64Array(p.length),
          v = new Float64Array(p.length);
        for (let s = 1; s <= steps; s++)
          for (let i = 0; i < p.length; i++) {
            p[i] *= 1 - lr * wd;
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            p[i] -= (lr * (m[i] / (1 - b1 ** s))) / (Math.sqrt(v[i] / (1 - b2 ** s)) + eps);
          }
        out[`p${k}`] = p;
      }
      return out;
    },
  },
];
void Tensor;
