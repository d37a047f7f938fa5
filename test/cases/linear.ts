// Linear layers: y = x·Wᵀ + b with an f32 weight and with an NF4 weight (frozen), and LoRA.
import {
  linearForward,
  linearBackward,
  loraLinearForward,
  loraLinearBackward,
  quantizeNF4,
  dequantizeNF4,
  disposeNF4,
  Tensor,
} from '../../lib/ops/index.js';
import { matmul64 } from '../helpers.js';
import { Draw, f32, host, type OpCase, type Tensors } from './case.js';

const d = new Draw(808);
const lin = (x: Float32Array, w: ArrayLike<number>, b: Float32Array | null, M: number, K: number, N: number) => {
  const y = matmul64(x, w, M, K, N, true);
  if (b) for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) y[m * N + n] += b[n];
  return y;
};
/** the NF4 weight of `w` (on w's device) for one forward/backward, disposed with the case's tensors */
const nf4Of = (t: Tensors) => {
  const q = quantizeNF4(t.w, undefined, { blocksize: 64, doubleQuant: true });
  return q;
};

export const cases: OpCase[] = [
  ...[
    [3, 16, 5],
    [33, 96, 40],
  ].map(([M, K, N]): OpCase => ({
    family: 'linear',
    op: 'linear',
    name: `[${M},${K}]·[${N},${K}]ᵀ + b, f32 W`,
    keepF32: ['w', 'b'],
    dtypes: ['bf16'],
    inputs: () => ({ x: host(d.randn(M * K), [M, K]), w: host(d.randn(N * K, 0.2), [N, K]), b: host(d.randn(N), [N]) }),
    forward: (t) => ({ y: linearForward(t.x, t.w, t.b) }),
    reference: (x) => ({ y: lin(f32(x.x), f32(x.w), f32(x.b), M, K, N) }),
    backward: (t, _o, dy) => {
      const g = linearBackward(dy, t.x, t.w, { dx: true, dw: true, dbias: true });
      return { x: g.dx!, w: g.dw!, b: g.dbias! };
    },
    grad: { output: 'y', wrt: ['x', 'w', 'b'] },
  })),
  {
    family: 'linear',
    op: 'linear_nf4',
    name: '[9,128]·NF4[72,128]ᵀ (blocksize 64, double quant)',
    keepF32: ['w'],
    dtypes: ['bf16'],
    inputs: () => ({ x: host(d.randn(9 * 128), [9, 128]), w: host(d.randn(72 * 128, 0.2), [72, 128]) }),
    forward: (t) => {
      const q = nf4Of(t);
      const y = linearForward(t.x, q);
      disposeNF4(q);
      return { y };
    },
    reference: (x) => {
      const q = quantizeNF4(Tensor.from(f32(x.w), [72, 128]), undefined, { blocksize: 64, doubleQuant: true });
      const wd = dequantizeNF4(q, { dtype: 'f32' });
      const y = lin(f32(x.x), wd.toFloat32(), null, 9, 128, 72);
      wd.dispose();
      disposeNF4(q);
      return { y };
    },
    backward: (t, _o, dy) => {
      const q = nf4Of(t);
      const g = linearBackward(dy, t.x, q, { dx: true });
      disposeNF4(q);
      return { x: g.dx! };
    },
    grad: { output: 'y', wrt: ['x'] },
  },
  {
    family: 'linear',
    op: 'lora_linear',
    name: 'x [7,24], W [20,24], r 4, scale 2',
    keepF32: ['w', 'A', 'B'],
    inputs: () => ({
      x: host(d.randn(7 * 24), [7, 24]),
      w: host(d.randn(20 * 24, 0.2), [20, 24]),
      A: host(d.randn(4 * 24, 0.3), [4, 24]),
      B: host(d.randn(20 * 4, 0.3), [20, 4]),
    }),
    forward: (t) => {
      const r = loraLinearForward(t.x, t.w, null, { A: t.A, B: t.B, scale: 2 });
      return { y: r.y, xa: r.xa };
    },
    reference: (x) => {
      const y = lin(f32(x.x), f32(x.w), null, 7, 24, 20),
        xa = matmul64(f32(x.x), f32(x.A), 7, 24, 4, true),
        up = matmul64(xa, f32(x.B), 7, 4, 20, true);
      return { y: y.map((v, i) => v + 2 * up[i]) };
    },
    backward: (t, o, dy) => {
      const g = loraLinearBackward(dy, t.x, t.w, { A: t.A, B: t.B, scale: 2 }, o.xa, { dx: true });
      return { x: g.dx!, A: g.dA, B: g.dB };
    },
    grad: { output: 'y', wrt: ['x', 'A', 'B'] },
  },
];
