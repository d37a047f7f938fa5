// Cross-entropy (ignore index −100) and BCE-with-logits against float64 references; the greedy
// pick (argmax_rows) against a JS scan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ArgumentError, ShapeError } from '../lib/index.js';
import { crossEntropyForward, crossEntropyBackward, bceWithLogitsForward, bceWithLogitsBackward, argmaxRows } from '../lib/ops/index.js';
import { randnArray, finiteDiffCheck, throwsWith, randInt, rand } from './helpers.js';

function ceRef(logits: Float32Array, targets: number[], V: number): number {
  let total = 0,
    count = 0;
  targets.forEach((t, r) => {
    if (t === -100) return;
    let mx = -Infinity;
    for (let i = 0; i < V; i++) mx = Math.max(mx, logits[r * V + i]);
    let z = 0;
    for (let i = 0; i < V; i++) z += Math.exp(logits[r * V + i] - mx);
    total += mx + Math.log(z) - logits[r * V + t];
    count++;
  });
  return total / count;
}

test('cross entropy with ignore index: loss, count and gradient', () => {
  for (const [rows, V] of [
    [1, 2],
    [7, 33],
    [randInt(5, 40), randInt(100, 1000)],
  ]) {
    const logits = randnArray(rows * V, 3);
    const targets = Array.from({ length: rows }, (_, i) => (i > 0 && rand() < 0.3 ? -100 : randInt(0, V)));
    const lt = Tensor.from(logits, [rows, V]);
    const tt = Tensor.from(BigInt64Array.from(targets.map(BigInt)), [rows]);
    const r = crossEntropyForward(lt, tt);
    assert.equal(r.count, targets.filter((t) => t !== -100).length);
    assert.ok(Math.abs(r.loss - ceRef(logits, targets, V)) < 1e-9 * Math.max(1, r.loss));
    const d = crossEntropyBackward(lt, tt, 0.5).toFloat32();
    assert.ok(finiteDiffCheck(logits, d, (x) => 0.5 * ceRef(x, targets, V), 16, 1e-3) < 1e-3);
    for (let r2 = 0; r2 < rows; r2++)
      if (targets[r2] === -100)
        assert.ok(
          d.subarray(r2 * V, (r2 + 1) * V).every((v) => v === 0),
          'ignored rows get no gradient',
        );
  }
  // every target ignored: torch gives nan (0/0)
  const all = crossEntropyForward(Tensor.zeros([2, 4]), Tensor.from(new Int32Array([-100, -100])));
  assert.ok(Number.isNaN(all.loss));
  assert.equal(all.count, 0);
});

test('BCE with logits (mean) and its gradient, stable for large logits', () => {
  const n = randInt(8, 500);
  const x = randnArray(n, 5),
    y = Float32Array.from({ length: n }, () => (rand() < 0.5 ? 1 : 0));
  x[0] = 80;
  x[1] = -80;
  const ref = (xx: Float32Array) => xx.reduce((s, v, i) => s + Math.max(v, 0) - v * y[i] + Math.log1p(Math.exp(-Math.abs(v))), 0) / n;
  const loss = bceWithLogitsForward(Tensor.from(x), Tensor.from(y));
  assert.ok(Math.abs(loss - ref(x)) < 1e-9);
  const d = bceWithLogitsBackward(Tensor.from(x), Tensor.from(y)).toFloat32();
  assert.ok(finiteDiffCheck(x, d, ref, 16, 1e-3) < 1e-3);
});

test('losses reject bad targets and shapes', () => {
  const l = Tensor.zeros([2, 5]);
  throwsWith(() => crossEntropyForward(l, Tensor.from(new Int32Array([1, 5]))), ArgumentError, /cross_entropy_forward/, /targets\[1\] = 5/);
  throwsWith(() => crossEntropyForward(l, Tensor.from(new Int32Array([1, 2, 3]))), ShapeError, /one entry per row/);
  throwsWith(() => crossEntropyForward(l, Tensor.zeros([2])), Error, /targets must be i32\/i64/);
  throwsWith(() => bceWithLogitsForward(l, Tensor.zeros([2, 4])), ShapeError, /bce_logits_forward/);
});

test('argmax_rows picks the first maximum as a scan x[v] > x[best] does (ties, NaN, -inf; bf16 rows)', () => {
  const V = randInt(5, 300);
  const rows: number[][] = [
    Array.from(randnArray(V)),
    Array.from(randnArray(V)),
    Array.from(randnArray(V)),
    new Array(V).fill(-Infinity),
    Array.from(randnArray(V)),
  ];
  rows[0][1] = rows[0][V - 1] = 50; // a tie: the first
  rows[1][0] = NaN; // NaN in column 0 stays
  rows[2][2] = NaN;
  rows[2][V - 1] = 60; // NaN elsewhere is passed over
  const scan = (r: ArrayLike<number>) => {
    let b = 0;
    for (let v = 1; v < r.length; v++) if (r[v] > r[b]) b = v;
    return b;
  };
  const flat = Float32Array.from(rows.flat());
  for (const dtype of ['f32', 'bf16'] as const) {
    const x = Tensor.from(flat, [rows.length, V], { dtype });
    const xs = x.toFloat32();
    const want = rows.map((_, r) => scan(xs.subarray(r * V, (r + 1) * V)));
    assert.deepEqual([want[0], want[1], want[2], want[3]], [1, 0, V - 1, 0]);
    assert.deepEqual(Array.from(argmaxRows(x).toArray() as BigInt64Array, Number), want, dtype);
  }
  throwsWith(() => argmaxRows(Tensor.zeros([3, 0])), ShapeError, /argmax_rows/, /empty vocabulary/);
});
