// A first look at CUDA speed in this build: NF4 dequantize and conversion bandwidth against a
// device-to-device copy of the same bytes, timed in one run (synchronous calls, median of 20).
import { Tensor, quantizeNF4, info } from '../lib/index.js';
import { nativeNF4, nf4To } from '../lib/ops/nf4.js';
import { addon } from '../lib/native/addon.js';
import { randomF32 } from './util.js';

function median(fn: () => void, reps = 20): number {
  fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  return t.sort((a, b) => a - b)[reps >> 1];
}

const c = info().cuda;
if (!c.usable) {
  console.log(`gpu-smoke: no usable CUDA device (${c.reason})`);
  process.exit(0);
}
const [N, K] = [14336, 4096];
const q = nf4To(quantizeNF4(randomF32(N * K), [N, K], { doubleQuant: true }), 'cuda');
const nq = nativeNF4(q);
const outBf = Tensor.empty([N, K], 'bf16', 'cuda');
const src = Tensor.empty([N, K], 'bf16', 'cuda'),
  dst = Tensor.empty([N, K], 'bf16', 'cuda');
const tDeq = median(() => addon.nf4_dequantize(nq, outBf.handle));
const tCopy = median(() => {
  dst.copyFrom(src);
  addon.synchronize();
});
const tConv = median(() => addon.convert(src.handle, outBf.handle));
const bytesDeq = (N * K) / 2 + N * K * 2; // read 4-bit codes, write bf16
const rows = [
  ['copy bf16 D2D (peer)', (2 * N * K * 2) / tCopy / 1e6],
  ['nf4_dequantize -> bf16', bytesDeq / tDeq / 1e6],
  ['convert bf16 -> bf16', (2 * N * K * 2) / tConv / 1e6],
];
console.log(`device ${c.name} (cc ${c.computeCapability}), ${N}x${K}`);
for (const [name, gbs] of rows) console.log(`${String(name).padEnd(26)} ${Number(gbs).toFixed(0)} GB/s`);
console.log(`nf4_dequantize at ${((100 * (rows[1][1] as number)) / (rows[0][1] as number)).toFixed(0)}% of copy bandwidth`);
