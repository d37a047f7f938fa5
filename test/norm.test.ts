// RMSNorm and LayerNorm against float64 references and finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ShapeError, DTypeError } from '../lib/index.js';
import { rmsnormForward, rmsnormBackward, layernormForward, layernormBackward } from '../lib/ops/index.js';
import { randnArray, relDiff, finiteDiffCheck, dot64, throwsWith, randInt } from './helpers.js';

function rmsRef(x: Float32Array, w: Float32Array, rows: number, d: number, eps: number) {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[r * d + i] ** 2;
    const rs = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = w[i] * x[r * d + i] * rs;
  }
  return y;
}
function lnRef(x: Float32Array, w: Float32Array, b: Float32Array, rows: number, d: number, eps: number) {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mu = 0,
      v = 0;
    for (let i = 0; i < d; i++) mu += x[r * d + i] / d;
    for (let i = 0; i < d; i++) v += (x[r * d + i] - mu) ** 2 / d;
    for (let i = 0; i < d; i++) y[r * d + i] = ((x[r * d + i] - mu) / Math.sqrt(v + eps)) * w[i] + b[i];
  }
  return y;
}

test('rmsnorm forward/backward', () => {
  for (const [rows, d] of [
    [1, 2],
    [3, 7],
    [randInt(2, 30), randInt(8, 300)],
  ]) {
    const x = randnArray(rows * d),
      w = randnArray(d),
      g = randnArray(rows * d),
      eps = 1e-6;
    const xt = Tensor.from(x, [rows, d]),
      wt = Tensor.from(w);
    const { y, rstd } = rmsnormForward(xt, wt, eps);
    assert.ok(relDiff(y.toFloat32(), rmsRef(x, w, rows, d, eps)) < 1e-5);
    const { dx, dw } = rmsnormBackward(Tensor.from(g, [rows, d]), xt, wt, rstd);
    const L = (xx: Float32Array, ww: Float32Array) => dot64(rmsRef(xx, ww, rows, d, eps), g);
    assert.ok(finiteDiffCheck(x, dx.toFloat32(), (xx) => L(xx, w), 12, 1e-3) < 2e-3, 'dx');
    assert.ok(finiteDiffCheck(w, dw!.toFloat32(), (ww) => L(x, ww), 12, 1e-3) < 2e-3, 'dw');
  }
});

test('layernorm forward/backward with bias', () => {
  for (const [rows, d] of [
    [2, 3],
    [randInt(2, 30), randInt(8, 300)],
  ]) {
    const x = randnArray(rows * d),
      w = randnArray(d),
      b = randnArray(d),
      g = randnArray(rows * d),
      eps = 1e-5;
    const xt = Tensor.from(x, [rows, d]),
      wt = Tensor.from(w),
      bt = Tensor.from(b);
    const { y, mean, rstd } = layernormForward(xt, wt, bt, eps);
    assert.ok(relDiff(y.toFloat32(), lnRef(x, w, b, rows, d, eps)) < 1e-5);
    const r = layernormBackward(Tensor.from(g, [rows, d]), xt, wt, mean, rstd);
    const L = (xx: Float32Array, ww: Float32Array, bb: Float32Array) => dot64(lnRef(xx, ww, bb, rows, d, eps), g);
    assert.ok(finiteDiffCheck(x, r.dx.toFloat32(), (xx) => L(xx, w, b), 12, 1e-3) < 2e-3, 'dx');
    assert.ok(finiteDiffCheck(w, r.dw!.toFloat32(), (ww) => L(x, ww, b), 12, 1e-3) < 2e-3, 'dw');
    assert.ok(finiteDiffCheck(b, r.db!.toFloat32(), (bb) => L(x, w, bb), 12, 1e-3) < 2e-3, 'db');
    // accumulate adds into dw/db
    const dw1 = r.dw!.toFloat32();
    layernormBackward(Tensor.from(g, [rows, d]), xt, wt, mean, rstd, { dw: r.dw!, db: r.db!, accumulate: true });
    assert.ok(
      relDiff(
        r.dw!.toFloat32(),
        dw1.map((v) => 2 * v),
      ) < 1e-6,
    );
  }
});

test('norms reject mismatched shapes and dtypes', () => {
  throwsWith(() => rmsnormForward(Tensor.zeros([2, 8]), Tensor.zeros([7]), 1e-6), ShapeError, /rmsnorm_forward/, /f32\[7\]/, /f32\[2,8\]/);
  throwsWith(
    () => layernormForward(Tensor.zeros([2, 8], 'i64'), Tensor.zeros([8]), null, 1e-5),
    DTypeError,
    /layernorm_forward/,
    /x must be f32\/f16\/bf16/,
  );
});
