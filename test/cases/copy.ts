// Column slices of a row-major matrix (q/k/v out of a fused projection) and dtype conversions.
import { sliceColsForward, sliceColsBackward, convert, Tensor } from '../../lib/ops/index.js';
import { Draw, f32, host, type OpCase } from './case.js';

const d = new Draw(707);
/** round to bf16 (nearest even), as torch's CPU kernels do */
function bf16(v: number): number {
  const b = new Float32Array([v]),
    u = new Uint32Array(b.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000;
  return b[0];
}
export const cases: OpCase[] = [
  {
    family: 'copy',
    op: 'slice_cols',
    name: '[5,24] cols 8..20',
    dtypes: ['bf16'],
    inputs: () => ({ x: host(d.randn(5 * 24), [5, 24]) }),
    forward: (t) => ({ y: sliceColsForward(t.x, 8, 12) }),
    reference: (x) => ({ y: Float64Array.from({ length: 60 }, (_, i) => f32(x.x)[Math.floor(i / 12) * 24 + 8 + (i % 12)]) }),
    backward: (t, _o, dy) => ({ x: sliceColsBackward(dy, 8, Tensor.zeros(t.x.shape, 'f32', t.x.device)) }),
    grad: { output: 'y', wrt: ['x'] },
  },
  {
    family: 'copy',
    op: 'convert',
    name: 'f32 → bf16 → f32, 1000 values',
    tol: 0,
    inputs: () => ({ x: host(d.randn(1000, 10), [1000]) }),
    forward: (t) => {
      const b = convert(t.x, 'bf16');
      const y = convert(b, 'f32');
      b.dispose();
      return { y };
    },
    reference: (x) => ({ y: Float64Array.from(f32(x.x), bf16) }),
  },
];
