// linear and lora_linear against float64 references and finite differences, for every weight dtype.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, quantizeNF4, ShapeError, DTypeError, ArgumentError } from '../lib/index.js';
import { dequantizeNF4 } from '../lib/ops/index.js';
import { linearForward, linearBackward, loraLinearForward, loraLinearBackward, type Weight } from '../lib/ops/index.js';
import { randnArray, relDiff, matmul64, transpose, finiteDiffCheck, dot64, throwsWith, randInt } from './helpers.js';

type WKind = 'f32' | 'bf16' | 'f16' | 'nf4';

/** The weight in the requested storage plus the exact f32 values the kernel must use. */
function makeWeight(N: number, K: number, kind: WKind): { w: Weight; ref: Float32Array } {
  const vals = randnArray(N * K, 0.5);
  if (kind === 'f32') return { w: Tensor.from(vals, [N, K]), ref: vals };
  if (kind === 'nf4') {
    const q = quantizeNF4(vals, [N, K], { blocksize: 64, doubleQuant: true });
    return { w: q, ref: dequantizeNF4(q, { dtype: 'f32' }).toFloat32() };
  }
  const t = Tensor.from(vals, [N, K], { dtype: kind });
  return { w: t, ref: t.toFloat32() };
}

const SIZES: [number, number, number][] = [
  [1, 3, 1],
  [5, 17, 9],
  [7, 64, 16],
  [13, 129, 33],
  [37, 300, 70],
  [6, 256, 48],
];

test('linear_forward equals a float64 matmul for f32/bf16/f16/NF4 weights at odd sizes', () => {
  for (const kind of ['f32', 'bf16', 'f16', 'nf4'] as WKind[])
    for (const [M, K0, N] of SIZES) {
      const K = kind === 'nf4' ? Math.max(2, K0 + (K0 % 2)) : K0; // NF4 rows hold an even count here
      const { w, ref } = makeWeight(N, K, kind);
      const x = randnArray(M * K);
      const bias = randnArray(N);
      const y = linearForward(Tensor.from(x, [M, K]), w, Tensor.from(bias)).toFloat32();
      const want = matmul64(x, ref, M, K, N, true).map((v, i) => v + bias[i % N]);
      assert.ok(relDiff(y, want) < 2e-5, `${kind} ${M}x${K}x${N}: ${relDiff(y, want)}`);
    }
});

test('linear_forward and lora_linear_forward into a residual add x·Wᵀ + bias (+ LoRA) to it, returning it', () => {
  for (const kind of ['f32', 'bf16', 'nf4'] as WKind[])
    for (const [M, K, N] of [
      [1, 64, 40],
      [3, 32, 17],
      [70, 128, 33],
    ]) {
      const { w, ref } = makeWeight(N, K, kind);
      const x = randnArray(M * K),
        bias = randnArray(N),
        res = randnArray(M * N);
      const into = Tensor.from(res, [M, N]);
      const y = linearForward(Tensor.from(x, [M, K]), w, Tensor.from(bias), into);
      assert.equal(y, into);
      const want = matmul64(x, ref, M, K, N, true).map((v, i) => v + bias[i % N] + res[i]);
      assert.ok(relDiff(y.toFloat32(), want) < 2e-5, `${kind} ${M}x${K}x${N}: ${relDiff(y.toFloat32(), want)}`);
      // with LoRA: the same sum plus s·(x·Aᵀ)·Bᵀ
      const r = 4,
        A = randnArray(r * K),
        Bm = randnArray(N * r);
      const lora = { A: Tensor.from(A, [r, K]), B: Tensor.from(Bm, [N, r]), scale: 0.5 };
      const into2 = Tensor.from(res, [M, N]);
      const { y: y2, xa } = loraLinearForward(Tensor.from(x, [M, K]), w, Tensor.from(bias), lora, into2);
      assert.equal(y2, into2);
      const xaRef = matmul64(x, A, M, K, r, true),
        extra = matmul64(xaRef, Bm, M, r, N, true);
      const want2 = want.map((v, i) => v + 0.5 * extra[i]);
      assert.ok(relDiff(y2.toFloat32(), want2) < 2e-5, `lora ${kind} ${M}x${K}x${N}: ${relDiff(y2.toFloat32(), want2)}`);
      xa.dispose();
    }
});

test('linear_forward crosses every blocking boundary (K > 256, N > 3072, M > 96)', () => {
  const M = 101,
    K = 515,
    N = 3100;
  const { w, ref } = makeWeight(N, K, 'f32');
  const x = randnArray(M * K);
  const y = linearForward(Tensor.from(x, [M, K]), w).toFloat32();
  assert.ok(relDiff(y, matmul64(x, ref, M, K, N, true)) < 2e-5);
  // leading dimensions are flattened: [B, T, K] -> [B, T, N]
  const x3 = Tensor.from(x.subarray(0, 4 * 3 * K), [4, 3, K]);
  assert.deepEqual(linearForward(x3, w).shape, [4, 3, N]);
});

test('linear_backward: dx, dW, dbias against float64 and finite differences', () => {
  for (const kind of ['f32', 'nf4'] as WKind[]) {
    const [M, K, N] = [randInt(3, 20), 2 * randInt(8, 90), randInt(5, 40)];
    const { w, ref } = makeWeight(N, K, kind);
    const x = randnArray(M * K),
      g = randnArray(M * N);
    const xt = Tensor.from(x, [M, K]);
    const trainable = kind === 'f32';
    const r = linearBackward(Tensor.from(g, [M, N]), xt, w, { dw: trainable, dbias: true });
    const dx = r.dx!.toFloat32();
    assert.ok(relDiff(dx, matmul64(g, ref, M, N, K, false)) < 2e-5, `${kind} dx`);
    if (trainable) assert.ok(relDiff(r.dw!.toFloat32(), matmul64(transpose(g, M, N), x, N, M, K, false)) < 2e-5, 'dW');
    const db = new Float64Array(N);
    for (let i = 0; i < M * N; i++) db[i % N] += g[i];
    assert.ok(relDiff(r.dbias!.toFloat32(), db) < 2e-5, 'dbias');
    const loss = (xx: Float32Array) => dot64(linearForward(Tensor.from(xx, [M, K]), w).toFloat32(), g);
    assert.ok(finiteDiffCheck(x, dx, loss) < 1e-3, `${kind} dx vs finite differences`);
    // accumulate adds into existing gradients
    if (trainable) {
      const acc = r.dw!.toFloat32();
      linearBackward(Tensor.from(g, [M, N]), xt, w, { dx: false, dw: r.dw!, accumulate: true });
      assert.ok(
        relDiff(
          r.dw!.toFloat32(),
          acc.map((v) => 2 * v),
        ) < 1e-6,
      );
    }
  }
});

// splitmix64 dropout mask, transcribed from native/cpu/linear.cpp (CUDA uses the same function).
const M64 = (1n << 64n) - 1n;
function mix64(z: bigint): bigint {
  z = (z + 0x9e3779b97f4a7c15n) & M64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}
function keepScale(seed: number, i: number, p: number): number {
  if (p <= 0) return 1;
  const h = mix64(BigInt(seed) ^ mix64(BigInt(i)));
  const u = Number(h >> 40n) / 16777216;
  return u >= Math.fround(p) ? Math.fround(1 / Math.fround(1 - Math.fround(p))) : 0;
}

function loraRef(
  x: Float32Array,
  ref: Float32Array,
  A: Float32Array,
  B: Float32Array,
  M: number,
  K: number,
  N: number,
  r: number,
  s: number,
  p: number,
  seed: number,
) {
  const xd = x.map((v, i) => v * keepScale(seed, i, p));
  const xa = matmul64(xd, A, M, K, r, true);
  const y = matmul64(x, ref, M, K, N, true);
  const up = matmul64(xa, B, M, r, N, true);
  return { y: y.map((v, i) => v + s * up[i]), xa, xd };
}

test('lora_linear forward/backward (with dropout) against float64 and finite differences', () => {
  for (const kind of ['f32', 'bf16', 'nf4'] as WKind[])
    for (const p of [0, 0.3]) {
      const [M, K, N, r] = [randInt(2, 15), 2 * randInt(4, 70), randInt(3, 40), randInt(1, 9)];
      const { w, ref } = makeWeight(N, K, kind);
      const x = randnArray(M * K),
        A = randnArray(r * K, 0.3),
        B = randnArray(N * r, 0.3),
        g = randnArray(M * N);
      const s = 2 / r,
        seed = randInt(0, 2 ** 31);
      const lora = { A: Tensor.from(A, [r, K]), B: Tensor.from(B, [N, r]), scale: s, dropout: p, seed };
      const xt = Tensor.from(x, [M, K]);
      const { y, xa } = loraLinearForward(xt, w, null, lora);
      const want = loraRef(x, ref, A, B, M, K, N, r, s, p, seed);
      assert.ok(relDiff(y.toFloat32(), want.y) < 2e-5, `${kind} p=${p} y`);
      assert.ok(relDiff(xa.toFloat32(), want.xa) < 2e-5, `${kind} p=${p} xa`);
      const { dx, dA, dB } = loraLinearBackward(Tensor.from(g, [M, N]), xt, w, lora, xa);
      // dB = s·gᵀ·xa ; dA = (s·g·B)ᵀ·xd ; dx = g·W + ((s·g·B)·A) ⊙ mask
      const gB = matmul64(g, B, M, N, r, false).map((v) => v * s);
      assert.ok(
        relDiff(
          dB.toFloat32(),
          matmul64(transpose(g, M, N), want.xa, N, M, r, false).map((v) => v * s),
        ) < 2e-5,
        'dB',
      );
      assert.ok(relDiff(dA.toFloat32(), matmul64(transpose(gB, M, r), want.xd, r, M, K, false)) < 2e-5, 'dA');
      const gBA = matmul64(gB, A, M, r, K, false);
      const dxRef = matmul64(g, ref, M, N, K, false).map((v, i) => v + gBA[i] * keepScale(seed, i, p));
      assert.ok(relDiff(dx!.toFloat32(), dxRef) < 2e-5, `${kind} p=${p} dx`);
      const lossA = (aa: Float32Array) => dot64(loraLinearForward(xt, w, null, { ...lora, A: Tensor.from(aa, [r, K]) }).y.toFloat32(), g);
      assert.ok(finiteDiffCheck(A, dA.toFloat32(), lossA) < 1e-3, 'dA vs finite differences');
      const lossB = (bb: Float32Array) => dot64(loraLinearForward(xt, w, null, { ...lora, B: Tensor.from(bb, [N, r]) }).y.toFloat32(), g);
      assert.ok(finiteDiffCheck(B, dB.toFloat32(), lossB) < 1e-3, 'dB vs finite differences');
    }
});

test('dropout keeps about 1 − p of the elements and is deterministic per seed', () => {
  const M = 64,
    K = 64,
    N = 4,
    r = 2;
  const x = Tensor.from(new Float32Array(M * K).fill(1), [M, K]);
  const A = Tensor.from(new Float32Array(r * K).fill(1), [r, K]);
  const w = Tensor.zeros([N, K]);
  const B = Tensor.zeros([N, r]);
  const run = (seed: number) => loraLinearForward(x, w, null, { A, B, scale: 1, dropout: 0.25, seed }).xa.toFloat32();
  const a = run(7),
    b = run(7),
    c = run(8);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const kept = (a.reduce((s, v) => s + v, 0) / (M * r) / K) * 0.75; // mean of kept·(1/0.75) over K, rescaled
  assert.ok(Math.abs(kept - 0.75) < 0.03, `kept fraction ${kept}`);
});

test('linear ops reject bad shapes, dtypes and arguments with the op name and shapes', () => {
  const x = Tensor.zeros([4, 8]),
    w = Tensor.zeros([3, 7]);
  throwsWith(() => linearForward(x, w), ShapeError, /linear_forward/, /f32\[4,8\]/, /\[3,7\]/);
  throwsWith(
    () => linearForward(Tensor.zeros([4, 8], 'i32'), Tensor.zeros([3, 8])),
    DTypeError,
    /linear_forward/,
    /x must be f32\/f16\/bf16, got i32/,
  );
  throwsWith(() => linearForward(x, Tensor.zeros([3, 8]), Tensor.zeros([4])), ShapeError, /bias/);
  throwsWith(() => linearForward(x, Tensor.zeros([24])), ShapeError, /w must have 2 dimensions/);
  const q = quantizeNF4(randnArray(64), [8, 8]);
  throwsWith(() => linearBackward(Tensor.zeros([4, 8]), x, q, { dw: true }), DTypeError, /dw needs an f32 weight/);
  const lora = { A: Tensor.zeros([2, 9]), B: Tensor.zeros([8, 2]), scale: 1 };
  throwsWith(() => loraLinearForward(x, q, null, lora), ShapeError, /lora_linear_forward/, /A f32\[2,9\]/);
  throwsWith(() => loraLinearForward(x, q, null, { ...lora, A: Tensor.zeros([2, 8]), dropout: 1 }), ArgumentError, /dropout/);
  const disposed = Tensor.zeros([3, 8]);
  disposed.dispose();
  throwsWith(() => linearForward(x, disposed), ArgumentError, /disposed/);
});
