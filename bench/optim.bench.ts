// AdamW parameters/s (one multi-tensor call) against a naive JS AdamW loop.
import { Tensor, AdamW } from '../lib/index.js';
import { medianMs, randomF32, type Row } from './util.js';

function naiveAdamW(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, step: number): void {
  const lr = 1e-4,
    b1 = 0.9,
    b2 = 0.999,
    eps = 1e-8,
    wd = 0.01;
  const bc1 = 1 - b1 ** step,
    bc2 = Math.sqrt(1 - b2 ** step);
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * wd;
    m[i] += (1 - b1) * (g[i] - m[i]);
    v[i] = v[i] * b2 + (1 - b2) * g[i] * g[i];
    p[i] -= ((lr / bc1) * m[i]) / (Math.sqrt(v[i]) / bc2 + eps);
  }
}

export async function run(): Promise<Row[]> {
  const sizes = [4096 * 16, 14336 * 16, 4096 * 16, 1024 * 16, 8 * 4096, 4096 * 4096]; // LoRA-shaped + one big tensor
  const n = sizes.reduce((a, b) => a + b, 0);
  const params = sizes.map((s) => Tensor.from(randomF32(s)));
  const grads = sizes.map((s) => Tensor.from(randomF32(s, 0.01)));
  const opt = new AdamW(params, { lr: 1e-4, maxGradNorm: 1 });
  const ms = await medianMs('adamw', () => {
    opt.stepWith(grads);
  });
  const p = randomF32(n),
    g = randomF32(n, 0.01),
    m = new Float32Array(n),
    v = new Float32Array(n);
  let step = 0;
  const naive = await medianMs('naive adamw', () => naiveAdamW(p, g, m, v, ++step));
  opt.dispose();
  // bytes touched per parameter: read p, g, m, v; write p, m, v (f32) = 28
  return [
    {
      suite: 'optim',
      case: `adamw ${(n / 1e6).toFixed(1)}M f32 params (6 tensors, clip)`,
      metric: 'Mparams/s',
      value: n / ms / 1e3,
      baseline: 'naive JS',
      baselineValue: n / naive / 1e3,
    },
    { suite: 'optim', case: 'adamw effective bandwidth', metric: 'GB/s', value: (28 * n) / ms / 1e6 },
  ];
}
