// Embedding lookups, row gathers and the last-token index.
import { embeddingForward, embeddingBackward, gatherRowsForward, gatherRowsBackward, lastTokenIndex, Tensor } from '../../lib/ops/index.js';
import { Draw, f32, host, type OpCase } from './case.js';

const d = new Draw(505);
const [V, C, N] = [37, 12, 10];
export const cases: OpCase[] = [
  {
    family: 'embedding',
    op: 'embedding',
    name: `${N} ids into [${V},${C}]`,
    dtypes: ['bf16'],
    inputs: () => ({ ids: host(d.ids(N, V), [2, N / 2]), table: host(d.randn(V * C), [V, C]) }),
    forward: (t) => ({ out: embeddingForward(t.ids, t.table) }),
    reference: (x) => {
      const ids = x.ids.data as BigInt64Array,
        w = f32(x.table),
        out = new Float64Array(N * C);
      ids.forEach((id, i) => {
        for (let c = 0; c < C; c++) out[i * C + c] = w[Number(id) * C + c];
      });
      return { out };
    },
    backward: (t, _o, dy) => ({ table: embeddingBackward(t.ids, dy, Tensor.zeros(t.table.shape, 'f32', t.table.device)) }),
    grad: { output: 'out', wrt: ['table'] },
  },
  {
    family: 'embedding',
    op: 'gather_rows',
    name: 'x [3,5,8], one row each',
    inputs: () => ({ x: host(d.randn(3 * 5 * 8), [3, 5, 8]), idx: host(BigInt64Array.from([4n, 0n, 2n]), [3]) }),
    forward: (t) => ({ y: gatherRowsForward(t.x, t.idx) }),
    reference: (x) => {
      const a = f32(x.x),
        idx = x.idx.data as BigInt64Array,
        y = new Float64Array(3 * 8);
      for (let b = 0; b < 3; b++) for (let c = 0; c < 8; c++) y[b * 8 + c] = a[(b * 5 + Number(idx[b])) * 8 + c];
      return { y };
    },
    backward: (t, _o, dy) => ({ x: gatherRowsBackward(dy, t.idx, t.x.shape) }),
    grad: { output: 'y', wrt: ['x'] },
  },
  {
    family: 'embedding',
    op: 'last_token_index',
    name: 'ids [3,6], pad 0',
    inputs: () => ({ ids: host(BigInt64Array.from([5n, 6n, 7n, 0n, 0n, 0n, 1n, 2n, 3n, 4n, 5n, 6n, 0n, 0n, 0n, 0n, 0n, 0n]), [3, 6]) }),
    forward: (t) => ({ last: lastTokenIndex(t.ids, 0) }),
    reference: () => ({ last: [2, 5, 0] }),
    tol: 0,
  },
];
