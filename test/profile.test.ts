// profileOps: every native op call while the function runs, counted and timed per op name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, profileOps, formatProfile } from '../lib/index.js';
import { linearForward, rmsnormForward, addForward, convert } from '../lib/ops/index.js';
import { randnArray } from './helpers.js';
import { addon } from '../lib/native/addon.js';

test('profileOps counts each op call and its time, sorted by time; profiling stops afterwards', () => {
  const x = Tensor.from(randnArray(64 * 256), [64, 256]),
    w = Tensor.from(randnArray(512 * 256), [512, 256]);
  const norm = Tensor.from(new Float32Array(256).fill(1));
  const { result, ops, totalMs } = profileOps(() => {
    for (let i = 0; i < 3; i++) linearForward(x, w).dispose();
    for (let i = 0; i < 2; i++) rmsnormForward(x, norm, 1e-5).y.dispose();
    return 42;
  });
  assert.equal(result, 42);
  const by = Object.fromEntries(ops.map((o) => [o.op, o]));
  assert.equal(by.linear_forward.calls, 3);
  assert.equal(by.rmsnorm_forward.calls, 2);
  assert.ok(by.linear_forward.ms > 0 && totalMs >= by.linear_forward.ms);
  assert.ok(
    ops.every((o, i) => i === 0 || ops[i - 1].ms >= o.ms),
    'sorted by time',
  );
  assert.ok(Math.abs(ops.reduce((a, o) => a + o.share, 0) - 1) < 1e-9);
  assert.match(formatProfile(ops), /linear_forward\s+3 calls/);
  // nothing is recorded once it returned, and a throwing function still stops the profiler
  assert.throws(
    () =>
      profileOps(() => {
        throw new Error('boom');
      }),
    /boom/,
  );
  linearForward(x, w).dispose();
  assert.deepEqual(addon.profile_stop(), {}, 'the profiler stopped with the throw');
});

test('profileOps reports the bytes staged through f32 and the calls whose activations mixed dtypes', () => {
  const a = convert(Tensor.from(randnArray(1000)), 'bf16'),
    b = Tensor.from(randnArray(1000));
  const { ops } = profileOps(() => {
    addForward(a, a).dispose(); // one dtype: staged on the CPU (the reference computes on f32), in place on CUDA
    addForward(a, b).dispose(); // bf16 + f32: mixed (CUDA stages this call too)
  });
  const add = ops.find((o) => o.op === 'add_forward')!;
  assert.equal(add.calls, 2);
  assert.equal(add.mixed, 1);
  // staged on the CPU: a read twice and the bf16 output written, in each call: 6 bytes per element each way
  assert.equal(add.stagedBytes, (2 * 6 + 6 + 6 + 6) * 1000);
  assert.match(formatProfile(ops), /add_forward .* staged 0\.0 MiB {2}1 mixed-dtype calls/);
});
