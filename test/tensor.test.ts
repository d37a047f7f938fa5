// Tensor: dtypes, copies, views, devices, dispose, the finalizer safety net and memory counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Tensor, memory, resetPeakMemory, emptyCache, info, ShapeError, DTypeError, ArgumentError } from '../lib/index.js';
import { throwsWith } from './helpers.js';

test('every dtype round-trips through its TypedArray', () => {
  const cases = [
    ['f32', new Float32Array([1.5, -2, 3.25])],
    ['u8', new Uint8Array([0, 7, 255])],
    ['i32', new Int32Array([-5, 0, 2 ** 31 - 1])],
    ['i64', new BigInt64Array([-(2n ** 62n), 0n, 42n])],
    ['f16', new Uint16Array([0x3c00, 0xc000, 0x7bff])],
    ['bf16', new Uint16Array([0x3f80, 0xc000, 0x7f7f])],
  ] as const;
  for (const [dt, arr] of cases) {
    const t = Tensor.from(arr, [3], { dtype: dt });
    assert.equal(t.dtype, dt);
    assert.deepEqual(t.toArray(), arr);
    assert.equal(t.nbytes, arr.byteLength);
  }
  assert.deepEqual(Tensor.from(new Uint16Array([0x3c00, 0xc000]), [2], { dtype: 'f16' }).toFloat32(), new Float32Array([1, -2]));
  assert.deepEqual(Tensor.from(new Uint16Array([0x3f80, 0xc040]), [2], { dtype: 'bf16' }).toFloat32(), new Float32Array([1, -3]));
  assert.deepEqual(Tensor.from([1, 2, 3, 4], [2, 2]).toFloat32(), new Float32Array([1, 2, 3, 4]));
  assert.deepEqual(Tensor.zeros([2, 3], 'i64').toArray(), new BigInt64Array(6));
});

test('views and reshape share storage; slices see the parent', () => {
  const t = Tensor.from(
    Float32Array.from({ length: 12 }, (_, i) => i),
    [3, 4],
  );
  const r = t.reshape([2, -1]);
  assert.deepEqual(r.shape, [2, 6]);
  assert.ok(r.handle.sharesStorage(t.handle));
  const row = t.view([4], 4);
  assert.deepEqual(row.toFloat32(), new Float32Array([4, 5, 6, 7]));
  row.copyFrom(Tensor.from(new Float32Array([9, 9, 9, 9])));
  assert.equal(t.toFloat32()[5], 9);
  // the parent's memory outlives its own dispose while a view holds it
  t.dispose();
  assert.deepEqual(row.toFloat32(), new Float32Array([9, 9, 9, 9]));
  throwsWith(() => t.toArray(), ArgumentError, /disposed/);
  throwsWith(() => r.reshape([5, 5]), ShapeError, /cannot become/);
  throwsWith(() => row.view([3], 2), ShapeError, /does not fit/);
});

test('resetPeakMemory starts a new peak at what is held now; emptyCache is safe without a GPU', () => {
  const big = Tensor.empty([1 << 20]);
  big.dispose();
  assert.ok(memory().cpu.peak >= memory().cpu.live + (1 << 22));
  resetPeakMemory();
  assert.equal(memory().cpu.peak, memory().cpu.live);
  const t = Tensor.empty([1000]);
  assert.equal(memory().cpu.peak, memory().cpu.live);
  t.dispose();
  emptyCache();
  assert.equal(typeof memory().cuda.reservedPeak, 'number');
});

test('memory() counts live bytes; dispose and the GC finalizer release them', async () => {
  const before = memory().cpu.live;
  const t = Tensor.zeros([1024, 256]);
  assert.equal(memory().cpu.live - before, 1024 * 256 * 4);
  assert.ok(memory().cpu.peak >= memory().cpu.live);
  t.dispose();
  assert.equal(memory().cpu.live, before);
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  (() => {
    for (let i = 0; i < 8; i++) Tensor.zeros([256, 256]);
  })();
  assert.ok(memory().cpu.live >= before + 8 * 256 * 256 * 4 || memory().cpu.live === before);
  // earlier tests' garbage may be collected too, so live can end below `before`
  for (let i = 0; i < 10 && memory().cpu.live > before; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(memory().cpu.live <= before, 'unreachable tensors are freed by the finalizer');
});

test('bad arguments are typed errors, never crashes', () => {
  throwsWith(() => Tensor.zeros([2, -1]), ShapeError, /non-negative/);
  throwsWith(() => Tensor.zeros([2], 'f64' as 'f32'), DTypeError, /unknown dtype 'f64'/);
  throwsWith(() => Tensor.zeros([2], 'f32', 'tpu' as 'cpu'), ArgumentError, /unknown device/);
  throwsWith(() => Tensor.from(new Float32Array(5), [2, 2]), ShapeError, /5 values/);
  throwsWith(() => Tensor.from(new Uint16Array(2)), DTypeError, /f16 or bf16/);
  throwsWith(() => Tensor.from(new Int32Array(2), [2], { dtype: 'f32' }), DTypeError, /Int32Array/);
  const t = Tensor.zeros([4]);
  throwsWith(() => t.handle.copyFromArray(new Float32Array(3)), Error, /12 bytes given for tensor f32\[4\]/);
});

test('cuda tensors work where a GPU is usable and fail clearly where not', (ctx) => {
  const c = info().cuda;
  const host = Tensor.from(Float32Array.from({ length: 1000 }, (_, i) => i * 0.5));
  if (!c.usable) {
    throwsWith(() => host.to('cuda'), Error, /cuda|CUDA/);
    ctx.diagnostic(`no usable CUDA device (${c.reason}): checked that cuda tensors fail with a clear error`);
    return;
  }
  const before = memory().cuda.live;
  const d = host.to('cuda');
  assert.equal(d.device, 'cuda');
  assert.equal(memory().cuda.live - before, 4000);
  assert.deepEqual(d.toFloat32(), host.toFloat32());
  const half = d.view([500], 500);
  assert.deepEqual(half.to('cpu').toFloat32(), host.toFloat32().subarray(500));
  d.dispose();
  assert.equal(memory().cuda.live - before, 4000, 'the view keeps the storage alive');
  half.dispose();
  assert.equal(memory().cuda.live, before);
});
