// Rotary position embeddings (HF rotate_half layout), full and partial.
import { ropeForward, ropeBackward } from '../../lib/ops/index.js';
import { Draw, f32, host, type OpCase } from './case.js';

const d = new Draw(303);
export const cases: OpCase[] = [
  [2, 5, 3, 8, 8],
  [1, 7, 2, 64, 32],
].map(([B, T, H, D, rot]): OpCase => ({
  family: 'rope',
  op: 'rope',
  name: `[${B},${T},${H},${D}] rotary ${rot}`,
  dtypes: ['bf16'],
  inputs: () => ({
    x: host(d.randn(B * T * H * D), [B, T, H, D]),
    pos: host(
      BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i % T) + (i >= T ? 3 : 0))),
      [B, T],
    ),
  }),
  forward: (t) => ({ y: ropeForward(t.x, t.pos, { theta: 10000, rotaryDim: rot }) }),
  reference: (x) => {
    const a = f32(x.x),
      p = x.pos.data as BigInt64Array,
      y = Float64Array.from(a),
      half = rot / 2;
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++)
        for (let h = 0; h < H; h++)
          for (let i = 0; i < half; i++) {
            const o = ((b * T + t) * H + h) * D,
              ang = Number(p[b * T + t]) * 10000 ** (-(2 * i) / rot);
            y[o + i] = a[o + i] * Math.cos(ang) - a[o + i + half] * Math.sin(ang);
            y[o + i + half] = a[o + i + half] * Math.cos(ang) + a[o + i] * Math.sin(ang);
          }
    return { y };
  },
  backward: (t, _o, dy) => ({ x: ropeBackward(dy, t.pos, { theta: 10000, rotaryDim: rot }) }),
  grad: { output: 'y', wrt: ['x'] },
}));
