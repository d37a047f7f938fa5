// NF4 quantize → dequantize (bitsandbytes' format; the byte-exact vectors are in test/nf4.test.ts).
import { quantizeNF4, dequantizeNF4, disposeNF4, Tensor } from '../../lib/ops/index.js';
import { Draw, f32, host, type OpCase } from './case.js';

const d = new Draw(909);
const CODE = [
  -1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1,
];
export const cases: OpCase[] = [64, 256].map((bs): OpCase => ({
  family: 'nf4',
  op: 'nf4_roundtrip',
  name: `4×${bs * 3} values, blocksize ${bs}`,
  tol: 1e-6,
  inputs: () => ({ x: host(d.randn(4 * bs * 3), [4, bs * 3]) }),
  forward: (t) => {
    const q = quantizeNF4(t.x, undefined, { blocksize: bs });
    const y = dequantizeNF4(q, { dtype: 'f32' });
    disposeNF4(q);
    return { y };
  },
  // nearest code per element of each block's absmax-scaled values (plain absmax: no double quantization)
  reference: (x) => {
    const a = f32(x.x),
      y = new Float64Array(a.length);
    for (let b0 = 0; b0 < a.length; b0 += bs) {
      let am = 0;
      for (let i = b0; i < b0 + bs; i++) am = Math.max(am, Math.abs(a[i]));
      for (let i = b0; i < b0 + bs; i++) {
        const v = Math.fround(a[i] / am);
        let best = 0;
        for (let c = 1; c < 16; c++) if (Math.abs(CODE[c] - v) < Math.abs(CODE[best] - v)) best = c;
        y[i] = Math.fround(CODE[best] * Math.fround(am));
      }
    }
    return { y };
  },
}));
void Tensor;
