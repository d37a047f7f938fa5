// NF4 quantize / dequantize throughput (GB/s of f32 data) against a naive JS loop in the same run.
import { Tensor, quantizeNF4 } from '../lib/index.js';
import { disposeNF4 } from '../lib/ops/index.js';
import { nativeNF4 } from '../lib/ops/nf4.js';
import { addon } from '../lib/native/addon.js';
import { NF4_CODE_JS } from './naive.js';
import { medianMs, randomF32, type Row } from './util.js';

function naiveQuantize(x: Float32Array, bs: number): { packed: Uint8Array; absmax: Float32Array } {
  const packed = new Uint8Array(x.length / 2),
    absmax = new Float32Array(x.length / bs);
  for (let b = 0; b < absmax.length; b++) {
    let m = 0;
    for (let i = b * bs; i < (b + 1) * bs; i++) m = Math.max(m, Math.abs(x[i]));
    absmax[b] = m;
    for (let i = b * bs; i < (b + 1) * bs; i++) {
      const v = x[i] / m;
      let best = 0;
      for (let c = 1; c < 16; c++) if (Math.abs(v - NF4_CODE_JS[c]) < Math.abs(v - NF4_CODE_JS[best])) best = c;
      packed[i >> 1] |= i & 1 ? best : best << 4;
    }
  }
  return { packed, absmax };
}

function naiveDequantize(packed: Uint8Array, absmax: Float32Array, bs: number, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) {
    const byte = packed[i >> 1];
    out[i] = NF4_CODE_JS[i & 1 ? byte & 15 : byte >> 4] * absmax[Math.floor(i / bs)];
  }
}

export async function run(): Promise<Row[]> {
  const n = 4096 * 4096;
  const x = randomF32(n);
  const xt = Tensor.from(x, [4096, 4096]);
  const gb = (ms: number) => (n * 4) / (ms / 1e3) / 1e9;
  const qMs = await medianMs('nf4 quantize', () => disposeNF4(quantizeNF4(xt, undefined, { doubleQuant: true })));
  const nq = naiveQuantize(x.subarray(0, 1 << 20), 64);
  const qNaive = (await medianMs('naive quantize', () => naiveQuantize(x.subarray(0, 1 << 20), 64), 400)) * 16;
  const q = quantizeNF4(xt, undefined, { doubleQuant: true });
  // outputs are allocated once: the kernels are timed, not the first-touch page faults of fresh buffers
  const outF = Tensor.empty([4096, 4096], 'f32'),
    outB = Tensor.empty([4096, 4096], 'bf16');
  const nq4 = nativeNF4(q);
  const dMs = await medianMs('nf4 dequantize', () => addon.nf4_dequantize(nq4, outF.handle));
  const out = new Float32Array(1 << 20);
  const dNaive = (await medianMs('naive dequantize', () => naiveDequantize(nq.packed, nq.absmax, 64, out), 400)) * 16;
  const dbMs = await medianMs('nf4 dequantize bf16', () => addon.nf4_dequantize(nq4, outB.handle));
  outF.dispose();
  outB.dispose();
  disposeNF4(q);
  xt.dispose();
  return [
    {
      suite: 'nf4',
      case: 'quantize 4096² (blocksize 64, double quant)',
      metric: 'GB/s',
      value: gb(qMs),
      baseline: 'naive JS',
      baselineValue: gb(qNaive),
    },
    { suite: 'nf4', case: 'dequantize 4096² → f32', metric: 'GB/s', value: gb(dMs), baseline: 'naive JS', baselineValue: gb(dNaive) },
    {
      suite: 'nf4',
      case: 'dequantize 4096² → bf16',
      metric: 'GB/s',
      value: gb(dbMs),
      baseline: 'naive JS (f32 out)',
      baselineValue: gb(dNaive),
    },
  ];
}
