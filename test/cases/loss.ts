// Cross-entropy (with ignored targets) and BCE with logits: the loss, and dlogits by finite differences.
import { crossEntropyForward, crossEntropyBackward, bceWithLogitsForward, bceWithLogitsBackward, Tensor } from '../../lib/ops/index.js';
import { Draw, f32, host, type OpCase } from './case.js';

const d = new Draw(606);
const [R, V] = [6, 50];
export const cases: OpCase[] = [
  {
    family: 'loss',
    op: 'cross_entropy',
    name: `[${R},${V}], 2 ignored`,
    inputs: () => ({ logits: host(d.randn(R * V, 2), [R, V]), targets: host(BigInt64Array.from([3n, -100n, 49n, 0n, -100n, 17n]), [R]) }),
    forward: (t) => ({ loss: Tensor.from([crossEntropyForward(t.logits, t.targets).loss], [1]) }),
    reference: (x) => {
      const l = f32(x.logits),
        tg = x.targets.data as BigInt64Array;
      let s = 0,
        n = 0;
      for (let r = 0; r < R; r++) {
        if (tg[r] === -100n) continue;
        const row = Array.from(l.subarray(r * V, (r + 1) * V)),
          mx = Math.max(...row);
        s += Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0)) + mx - row[Number(tg[r])];
        n++;
      }
      return { loss: [s / n] };
    },
    backward: (t, _o, dy) => ({ logits: crossEntropyBackward(t.logits, t.targets, dy.toFloat32()[0]) }),
    grad: { output: 'loss', wrt: ['logits'] },
  },
  {
    family: 'loss',
    op: 'bce_with_logits',
    name: '[4,8] multi-label',
    inputs: () => ({
      logits: host(d.randn(32, 3), [4, 8]),
      labels: host(
        Float32Array.from({ length: 32 }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0)),
        [4, 8],
      ),
    }),
    forward: (t) => ({ loss: Tensor.from([bceWithLogitsForward(t.logits, t.labels)], [1]) }),
    reference: (x) => {
      const l = f32(x.logits),
        y = f32(x.labels);
      let s = 0;
      for (let i = 0; i < l.length; i++) s += Math.max(l[i], 0) - l[i] * y[i] + Math.log1p(Math.exp(-Math.abs(l[i])));
      return { loss: [s / l.length] };
    },
    backward: (t, _o, dy) => ({ logits: bceWithLogitsBackward(t.logits, t.labels, dy.toFloat32()[0]) }),
    grad: { output: 'loss', wrt: ['logits'] },
  },
];
