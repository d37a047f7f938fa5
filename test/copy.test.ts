// Column slices (fused q/k/v projections) and their backward; the KV-cache append.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ShapeError, ArgumentError } from '../lib/index.js';
import { sliceColsForward, sliceColsBackward, cacheWrite } from '../lib/ops/index.js';
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

test('cache_write puts k and v at the position `at` holds, leaves the rest, and refuses a position past the cache', () => {
  const [B, T, H, D, cap] = [2, 3, 2, 4, 7];
  const k = randnArray(B * T * H * D),
    v = randnArray(B * T * H * D),
    kc0 = randnArray(B * cap * H * D),
    vc0 = randnArray(B * cap * H * D);
  const kc = Tensor.from(kc0, [B, cap, H, D]),
    vc = Tensor.from(vc0, [B, cap, H, D]);
  const at = Tensor.from(BigInt64Array.of(2n));
  cacheWrite(Tensor.from(k, [B, T, H, D]), Tensor.from(v, [B, T, H, D]), at, kc, vc);
  const row = H * D;
  for (const [got, src, old] of [
    [kc.toFloat32(), k, kc0],
    [vc.toFloat32(), v, vc0],
  ])
    for (let b = 0; b < B; b++)
      for (let p = 0; p < cap; p++)
        for (let e = 0; e < row; e++) {
          const want = p >= 2 && p < 2 + T ? src[(b * T + p - 2) * row + e] : old[(b * cap + p) * row + e];
          assert.equal(got[(b * cap + p) * row + e], want, `b${b} p${p}`);
        }
  throwsWith(
    () => cacheWrite(Tensor.from(k, [B, T, H, D]), Tensor.from(v, [B, T, H, D]), Tensor.from(BigInt64Array.of(5n)), kc, vc),
    ArgumentError,
    /cache_write/,
    /at = 5 with 3 new positions does not fit/,
  );
  throwsWith(() => cacheWrite(Tensor.zeros([B, T, H, D]), Tensor.zeros([B, T, H, 3]), at, kc, vc), ShapeError, /cache_write/);
});
