// The ops that run on CUDA in this build, checked against the CPU reference on the device.
// Without a usable GPU each test is skipped with the reason (printed by the test runner).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, quantizeNF4, dequantizeNF4, nf4To, convert, info, linearForward, DeviceError } from '../lib/index.js';
import { randnArray, randInt, throwsWith } from './helpers.js';

const cuda = info().cuda;
const skip = cuda.usable ? false : `no usable CUDA device: ${cuda.reason}`;

test('nf4_dequantize on CUDA equals the CPU bit for bit (plain and double quant, f32/f16/bf16 out)', { skip }, () => {
  for (const bs of [32, 64, 256, 4096]) {
    const n = randInt(1, 5) * bs + 2 * randInt(0, 30);
    for (const dq of [false, true]) {
      const q = quantizeNF4(randnArray(n), [n], { blocksize: bs, doubleQuant: dq });
      const qd = nf4To(q, 'cuda');
      for (const dt of ['f32', 'f16', 'bf16'] as const) {
        const cpu = dequantizeNF4(q, { dtype: dt }).toArray();
        const gpu = dequantizeNF4(qd, { dtype: dt });
        assert.equal(gpu.device, 'cuda');
        assert.deepEqual(gpu.toArray(), cpu, `bs ${bs} dq ${dq} ${dt}`);
      }
    }
  }
});

test('convert on CUDA equals the CPU bit for bit', { skip }, () => {
  const x = randnArray(100003, 50);
  x[0] = 65520; x[1] = 1e-8; x[2] = NaN; x[3] = -Infinity;
  for (const [from, to] of [['f32', 'bf16'], ['f32', 'f16'], ['bf16', 'f32'], ['f16', 'f32'], ['bf16', 'f16']] as const) {
    const src = convert(Tensor.from(x), from);
    const cpu = convert(src, to).toArray();
    const gpu = convert(src.to('cuda'), to);
    assert.equal(gpu.device, 'cuda');
    assert.deepEqual(gpu.toArray(), cpu, `${from} -> ${to}`);
  }
});

test('ops without a CUDA kernel yet say so instead of reading device memory', { skip }, () => {
  const x = Tensor.zeros([2, 4], 'f32', 'cuda'), w = Tensor.zeros([3, 4], 'f32', 'cuda');
  throwsWith(() => linearForward(x, w), DeviceError, /linear_forward/, /CUDA/);
});
