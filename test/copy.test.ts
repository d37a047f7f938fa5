// Column slices (fused q/k/v projections) and their backward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ShapeError } from '../lib/index.js';
import { sliceColsForward, sliceColsBackward } from '../lib/ops/index.js';
import { randnArray, randInt, throwsWith } from './helpers.js';

test('slice_cols picks columns and its backward adds them back', () => {
  const R = randInt(1, 30),
    C = randInt(3, 50),
    start = randInt(0, C - 2),
    L = randInt(1, C - start);
  const x = randnArray(R * C);
  const y = sliceColsForward(Tensor.from(x, [R, C]), start, L).toFloat32();
  for (let r = 0; r < R; r++) for (let j = 0; j < L; j++) assert.equal(y[r * L + j], x[r * C + start + j]);
  const dx = Tensor.from(new Float32Array(R * C).fill(1), [R, C]);
  sliceColsBackward(Tensor.from(y, [R, L]), start, dx);
  const d = dx.toFloat32();
  for (let r = 0; r < R; r++)
    for (let c = 0; c < C; c++) assert.equal(d[r * C + c], c >= start && c < start + L ? Math.fround(1 + x[r * C + c]) : 1);
  throwsWith(() => sliceColsForward(Tensor.zeros([2, 4]), 3, 2), ShapeError, /slice_cols_forward/, /\[3, 5\)/);
});
