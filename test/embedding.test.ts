// Embedding lookup / scatter-add and last-non-pad-token pooling (transformers' rule).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ArgumentError, ShapeError } from '../lib/index.js';
import { embeddingForward, embeddingBackward, lastTokenIndex, gatherRowsForward, gatherRowsBackward } from '../lib/ops/index.js';
import { randnArray, randInt, throwsWith } from './helpers.js';

test('embedding forward gathers rows; backward scatter-adds repeated ids', () => {
  const V = randInt(5, 50),
    D = randInt(1, 70),
    n = randInt(1, 200);
  const table = randnArray(V * D);
  const ids = Array.from({ length: n }, () => randInt(0, V));
  const idT = Tensor.from(Int32Array.from(ids), [n]);
  const out = embeddingForward(idT, Tensor.from(table, [V, D])).toFloat32();
  ids.forEach((id, i) => assert.deepEqual(out.subarray(i * D, (i + 1) * D), table.subarray(id * D, (id + 1) * D)));
  const g = randnArray(n * D);
  const dt = embeddingBackward(Tensor.from(BigInt64Array.from(ids.map(BigInt))), Tensor.from(g, [n, D]), Tensor.zeros([V, D])).toFloat32();
  const ref = new Float64Array(V * D);
  ids.forEach((id, i) => {
    for (let j = 0; j < D; j++) ref[id * D + j] += g[i * D + j];
  });
  for (let i = 0; i < V * D; i++) assert.ok(Math.abs(dt[i] - ref[i]) < 1e-5);
});

test('last_token_index picks the last non-pad token as transformers does', () => {
  const pad = 0;
  const ids = [
    [5, 6, 7, 8], // no padding -> 3
    [5, 6, 0, 0], // right padding -> 1
    [0, 0, 5, 6], // left padding -> 3
    [0, 0, 0, 0], // all padding -> 0
    [5, 0, 6, 0], // pad in the middle -> 2
  ];
  const t = Tensor.from(BigInt64Array.from(ids.flat().map(BigInt)), [5, 4]);
  assert.deepEqual(Array.from(lastTokenIndex(t, pad).toArray() as BigInt64Array, Number), [3, 1, 3, 0, 2]);
  const H = 3,
    x = randnArray(5 * 4 * H);
  const idx = lastTokenIndex(t, pad);
  const y = gatherRowsForward(Tensor.from(x, [5, 4, H]), idx).toFloat32();
  assert.deepEqual(y.subarray(3, 6), x.subarray((1 * 4 + 1) * H, (1 * 4 + 2) * H));
  const dx = gatherRowsBackward(Tensor.from(y, [5, H]), idx, [5, 4, H]).toFloat32();
  assert.deepEqual(dx.subarray((1 * 4 + 1) * H, (1 * 4 + 2) * H), y.subarray(3, 6));
  assert.equal(
    dx.reduce((s, v) => s + Math.abs(v), 0),
    y.reduce((s, v) => s + Math.abs(v), 0),
  );
});

test('embedding and gather reject out-of-range ids', () => {
  throwsWith(
    () => embeddingForward(Tensor.from(new Int32Array([1, 9])), Tensor.zeros([5, 2])),
    ArgumentError,
    /embedding_forward/,
    /ids\[1\] = 9/,
    /\[0, 5\)/,
  );
  throwsWith(() => embeddingForward(Tensor.from(new Int32Array([-1])), Tensor.zeros([5, 2])), ArgumentError, /-1/);
  throwsWith(() => gatherRowsForward(Tensor.zeros([2, 3, 4]), Tensor.from(new Int32Array([0]))), ShapeError, /gather_rows_forward/);
  throwsWith(() => gatherRowsForward(Tensor.zeros([2, 3, 4]), Tensor.from(new Int32Array([0, 3]))), ArgumentError, /index\[1\] = 3/);
});
