// RoPE (HF rotate_half layout, partial rotary, explicit positions) against a float64 reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ShapeError, ArgumentError, DTypeError } from '../lib/index.js';
import { ropeForward, ropeBackward, ropePairInPlace } from '../lib/ops/index.js';
import { randnArray, relDiff, finiteDiffCheck, dot64, throwsWith, randInt } from './helpers.js';

function ropeRef(x: Float32Array, pos: number[], B: number, T: number, H: number, D: number, rot: number, theta: number) {
  const y = Float64Array.from(x);
  const half = rot / 2;
  for (let bt = 0; bt < B * T; bt++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < half; i++) {
        const ang = pos[bt] / theta ** ((2 * i) / rot);
        const o = (bt * H + h) * D,
          x1 = x[o + i],
          x2 = x[o + i + half];
        y[o + i] = x1 * Math.cos(ang) - x2 * Math.sin(ang);
        y[o + i + half] = x2 * Math.cos(ang) + x1 * Math.sin(ang);
      }
  return y;
}

test('rope forward/backward: full and partial rotary, arbitrary positions', () => {
  for (const [B, T, H, D, rot, theta] of [
    [1, 5, 2, 8, 8, 10000],
    [2, 7, 3, 16, 4, 10000],
    [2, randInt(3, 12), 4, 32, 24, 1e6],
  ]) {
    const x = randnArray(B * T * H * D),
      g = randnArray(B * T * H * D);
    const pos = Array.from({ length: B * T }, (_, i) => (i % T) + (i >= T ? 3 : 0));
    const pt = Tensor.from(BigInt64Array.from(pos.map(BigInt)), [B, T]);
    const xt = Tensor.from(x, [B, T, H, D]);
    const y = ropeForward(xt, pt, { rotaryDim: rot, theta });
    assert.ok(relDiff(y.toFloat32(), ropeRef(x, pos, B, T, H, D, rot, theta)) < 2e-5);
    const dx = ropeBackward(Tensor.from(g, [B, T, H, D]), pt, { rotaryDim: rot, theta }).toFloat32();
    assert.ok(finiteDiffCheck(x, dx, (xx) => dot64(ropeRef(xx, pos, B, T, H, D, rot, theta), g)) < 1e-4);
    // i32 positions and in-place application give the same result
    const p32 = Tensor.from(Int32Array.from(pos), [B, T]);
    const inplace = Tensor.from(x, [B, T, H, D]);
    ropeForward(inplace, p32, { rotaryDim: rot, theta, inPlace: true });
    assert.deepEqual(inplace.toFloat32(), y.toFloat32());
  }
});

test('rope rejects bad shapes and rotary dims', () => {
  const x = Tensor.zeros([1, 4, 2, 8]);
  throwsWith(() => ropeForward(x, Tensor.zeros([1, 3], 'i64'), { theta: 1e4 }), ShapeError, /rope_forward/, /positions/);
  throwsWith(() => ropeForward(x, Tensor.zeros([1, 4], 'i64'), { theta: 1e4, rotaryDim: 5 }), ArgumentError, /rotaryDim/);
  throwsWith(
    () => ropeForward(Tensor.zeros([4, 8]), Tensor.zeros([1, 4], 'i64'), { theta: 1e4, rotaryDim: 8 }),
    ShapeError,
    /4 dimensions/,
  );
});

test('q and k rotated by one call equal two calls, forward and inverse; a k of another dtype or shape is refused', () => {
  const [B, T, Hq, Hk, D] = [2, randInt(1, 6), 4, 2, 8];
  const pos = Tensor.from(
    BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 5) % 11)),
    [B, T],
  );
  const q0 = randnArray(B * T * Hq * D),
    k0 = randnArray(B * T * Hk * D);
  for (const inverse of [false, true]) {
    const o = { rotaryDim: 6, theta: 500 };
    const q = Tensor.from(q0, [B, T, Hq, D]),
      k = Tensor.from(k0, [B, T, Hk, D]);
    ropePairInPlace(q, k, pos, o, inverse);
    const one = inverse ? ropeBackward : ropeForward;
    const wq = one(Tensor.from(q0, [B, T, Hq, D]), pos, o),
      wk = one(Tensor.from(k0, [B, T, Hk, D]), pos, o);
    assert.deepEqual(q.toFloat32(), wq.toFloat32(), `q ${inverse}`);
    assert.deepEqual(k.toFloat32(), wk.toFloat32(), `k ${inverse}`);
    assert.notDeepEqual(k.toFloat32(), k0); // it did rotate
  }
  const q = Tensor.from(q0, [B, T, Hq, D]);
  throwsWith(() => ropePairInPlace(q, Tensor.zeros([B, T, Hk, D], 'bf16'), pos, { theta: 10 }), DTypeError, /rope_forward/, /x2/);
  throwsWith(() => ropePairInPlace(q, Tensor.zeros([B, T + 1, Hk, D]), pos, { theta: 10 }), ShapeError, /rope_forward/, /x2/);
});
