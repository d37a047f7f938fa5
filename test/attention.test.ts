// Causal attention with padding, GQA and sliding window against a float64 softmax reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ShapeError } from '../lib/index.js';
import { attentionForward, attentionBackward } from '../lib/ops/index.js';
import { randnArray, relDiff, finiteDiffCheck, dot64, throwsWith, randInt } from './helpers.js';

function attnRef(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  mask: number[] | null,
  B: number,
  T: number,
  Hq: number,
  Hkv: number,
  D: number,
  window: number,
) {
  const out = new Float64Array(B * T * Hq * D),
    scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / (Hq / Hkv));
      for (let t = 0; t < T; t++) {
        const sc: number[] = [];
        for (let s = 0; s <= t; s++) {
          if ((mask && !mask[b * T + s]) || (window > 0 && t - s >= window)) continue;
          let d = 0;
          for (let i = 0; i < D; i++) d += q[((b * T + t) * Hq + h) * D + i] * k[((b * T + s) * Hkv + hk) * D + i];
          sc.push(s, d * scale);
        }
        if (!sc.length) continue;
        let mx = -Infinity;
        for (let j = 1; j < sc.length; j += 2) mx = Math.max(mx, sc[j]);
        let z = 0;
        for (let j = 1; j < sc.length; j += 2) z += Math.exp(sc[j] - mx);
        for (let j = 0; j < sc.length; j += 2) {
          const p = Math.exp(sc[j + 1] - mx) / z,
            s = sc[j];
          for (let i = 0; i < D; i++) out[((b * T + t) * Hq + h) * D + i] += p * v[((b * T + s) * Hkv + hk) * D + i];
        }
      }
    }
  return out;
}

test('attention forward/backward: padding (left and right), GQA, sliding window', () => {
  const cases: [number, number, number, number, number, number][] = [
    [1, 1, 1, 1, 4, 0],
    [2, 6, 4, 2, 8, 0],
    [3, 9, 4, 1, 16, 3],
    [2, randInt(5, 14), 6, 3, 8, randInt(0, 5)],
  ];
  for (const [B, T, Hq, Hkv, D, window] of cases) {
    const q = randnArray(B * T * Hq * D),
      k = randnArray(B * T * Hkv * D),
      v = randnArray(B * T * Hkv * D);
    // row 0 full, row 1 right-padded, row 2 left-padded
    const mask = Array.from({ length: B * T }, (_, i) => {
      const b = Math.floor(i / T),
        t = i % T;
      return b === 1 ? (t < T - 2 ? 1 : 0) : b === 2 ? (t >= 2 ? 1 : 0) : 1;
    });
    const mt = Tensor.from(BigInt64Array.from(mask.map(BigInt)), [B, T]);
    const shapes = { q: [B, T, Hq, D], kv: [B, T, Hkv, D] };
    const qt = Tensor.from(q, shapes.q),
      kt = Tensor.from(k, shapes.kv),
      vt = Tensor.from(v, shapes.kv);
    const { out, lse } = attentionForward(qt, kt, vt, { mask: mt, window });
    const ref = attnRef(q, k, v, mask, B, T, Hq, Hkv, D, window);
    assert.ok(relDiff(out.toFloat32(), ref) < 1e-5, `B${B} T${T} Hq${Hq} Hkv${Hkv} w${window}`);
    const g = randnArray(B * T * Hq * D);
    const { dq, dk, dv } = attentionBackward(Tensor.from(g, shapes.q), qt, kt, vt, out, lse, { mask: mt, window });
    const L = (qq: Float32Array, kk: Float32Array, vv: Float32Array) => dot64(attnRef(qq, kk, vv, mask, B, T, Hq, Hkv, D, window), g);
    assert.ok(finiteDiffCheck(q, dq.toFloat32(), (x) => L(x, k, v), 10, 1e-3) < 2e-3, 'dq');
    assert.ok(finiteDiffCheck(k, dk.toFloat32(), (x) => L(q, x, v), 10, 1e-3) < 2e-3, 'dk');
    assert.ok(finiteDiffCheck(v, dv.toFloat32(), (x) => L(q, k, x), 10, 1e-3) < 2e-3, 'dv');
  }
});

test('attention without a mask is plain causal attention', () => {
  const [B, T, H, D] = [1, 7, 2, 8];
  const q = randnArray(B * T * H * D),
    k = randnArray(B * T * H * D),
    v = randnArray(B * T * H * D);
  const { out } = attentionForward(Tensor.from(q, [B, T, H, D]), Tensor.from(k, [B, T, H, D]), Tensor.from(v, [B, T, H, D]));
  assert.ok(relDiff(out.toFloat32(), attnRef(q, k, v, null, B, T, H, H, D, 0)) < 1e-5);
});

test('attention rejects inconsistent shapes', () => {
  const q = Tensor.zeros([1, 4, 3, 8]),
    kv = Tensor.zeros([1, 4, 2, 8]);
  throwsWith(() => attentionForward(q, kv, kv), ShapeError, /attention_forward/, /multiple of kv heads/);
  throwsWith(() => attentionForward(Tensor.zeros([1, 4, 4, 8]), kv, Tensor.zeros([1, 4, 2, 4])), ShapeError, /f32\[1,4,2,4\]/);
  throwsWith(() => attentionForward(Tensor.zeros([1, 4, 4, 8]), kv, kv, { mask: Tensor.zeros([1, 5], 'i64') }), ShapeError, /mask/);
});

test('attention against a KV cache equals the last rows of full attention', () => {
  const [B, T, Hq, Hkv, D, cap] = [2, 9, 4, 2, 8, 13];
  for (const window of [0, 4]) {
    const q = randnArray(B * T * Hq * D),
      k = randnArray(B * T * Hkv * D),
      v = randnArray(B * T * Hkv * D);
    const mask = Array.from({ length: B * T }, (_, i) => (i >= T && i % T < 3 ? 0 : 1)); // row 1 left-padded
    const full = attnRef(q, k, v, mask, B, T, Hq, Hkv, D, window);
    // cache of capacity 13 holding the first T positions; query = the last 2 tokens
    const kc = new Float32Array(B * cap * Hkv * D),
      vc = new Float32Array(B * cap * Hkv * D);
    const mc = new BigInt64Array(B * cap);
    for (let b = 0; b < B; b++) {
      kc.set(k.subarray(b * T * Hkv * D, (b + 1) * T * Hkv * D), b * cap * Hkv * D);
      vc.set(v.subarray(b * T * Hkv * D, (b + 1) * T * Hkv * D), b * cap * Hkv * D);
      for (let t = 0; t < T; t++) mc[b * cap + t] = BigInt(mask[b * T + t]);
    }
    const Tq = 2;
    const qlast = new Float32Array(B * Tq * Hq * D);
    for (let b = 0; b < B; b++) qlast.set(q.subarray((b * T + T - Tq) * Hq * D, (b + 1) * T * Hq * D), b * Tq * Hq * D);
    const { out } = attentionForward(
      Tensor.from(qlast, [B, Tq, Hq, D]),
      Tensor.from(kc, [B, cap, Hkv, D]),
      Tensor.from(vc, [B, cap, Hkv, D]),
      { mask: Tensor.from(mc, [B, cap]), window, kvLen: T },
    );
    const want = new Float64Array(B * Tq * Hq * D);
    for (let b = 0; b < B; b++) want.set(full.subarray((b * T + T - Tq) * Hq * D, (b + 1) * T * Hq * D), b * Tq * Hq * D);
    assert.ok(relDiff(out.toFloat32(), want) < 1e-5, `window ${window}`);
  }
  throwsWith(
    () => attentionForward(Tensor.zeros([1, 3, 2, 4]), Tensor.zeros([1, 5, 2, 4]), Tensor.zeros([1, 5, 2, 4]), { kvLen: 2 }),
    ShapeError,
    /kvLen 2/,
  );
});

// Non-causal attention with an additive [Hq,Tq,Tk] bias (T5): float64 reference.
function crossRef(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  bias: Float32Array | null,
  mask: number[],
  B: number,
  Tq: number,
  Tk: number,
  Hq: number,
  Hkv: number,
  D: number,
  scale: number,
) {
  const out = new Float64Array(B * Tq * Hq * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / (Hq / Hkv));
      for (let t = 0; t < Tq; t++) {
        const sc = new Float64Array(Tk).fill(-Infinity);
        for (let s = 0; s < Tk; s++) {
          if (!mask[b * Tk + s]) continue;
          let d = 0;
          for (let i = 0; i < D; i++) d += q[((b * Tq + t) * Hq + h) * D + i] * k[((b * Tk + s) * Hkv + hk) * D + i];
          sc[s] = d * scale + (bias ? bias[(h * Tq + t) * Tk + s] : 0);
        }
        const mx = Math.max(...sc);
        let z = 0;
        for (let s = 0; s < Tk; s++) z += sc[s] === -Infinity ? 0 : Math.exp(sc[s] - mx);
        for (let s = 0; s < Tk; s++) {
          if (sc[s] === -Infinity) continue;
          const p = Math.exp(sc[s] - mx) / z;
          for (let i = 0; i < D; i++) out[((b * Tq + t) * Hq + h) * D + i] += p * v[((b * Tk + s) * Hkv + hk) * D + i];
        }
      }
    }
  return out;
}

test('non-causal attention with a score bias (T5 encoder and cross-attention): forward, backward, Tq ≠ Tk', () => {
  for (const [B, Tq, Tk, Hq, Hkv, D, withBias] of [
    [2, 5, 7, 4, 4, 8, 1],
    [3, 9, 4, 4, 2, 16, 1],
    [2, 6, 6, 2, 2, 8, 0],
  ] as const) {
    const q = randnArray(B * Tq * Hq * D),
      k = randnArray(B * Tk * Hkv * D),
      v = randnArray(B * Tk * Hkv * D);
    const bias = withBias ? randnArray(Hq * Tq * Tk) : null;
    const mask = Array.from({ length: B * Tk }, (_, i) => (i >= Tk && i % Tk >= Tk - 2 ? 0 : 1)); // row 1 right-padded
    const mt = Tensor.from(BigInt64Array.from(mask.map(BigInt)), [B, Tk]);
    const qt = Tensor.from(q, [B, Tq, Hq, D]),
      kt = Tensor.from(k, [B, Tk, Hkv, D]),
      vt = Tensor.from(v, [B, Tk, Hkv, D]);
    const o = { mask: mt, causal: false, scale: 1, bias: bias ? Tensor.from(bias, [Hq, Tq, Tk]) : null };
    const { out, lse } = attentionForward(qt, kt, vt, o);
    assert.ok(relDiff(out.toFloat32(), crossRef(q, k, v, bias, mask, B, Tq, Tk, Hq, Hkv, D, 1)) < 1e-5, `B${B} Tq${Tq} Tk${Tk}`);
    const g = randnArray(B * Tq * Hq * D);
    const { dq, dk, dv } = attentionBackward(Tensor.from(g, [B, Tq, Hq, D]), qt, kt, vt, out, lse, o);
    assert.deepEqual(
      [dk.shape, dv.shape],
      [
        [B, Tk, Hkv, D],
        [B, Tk, Hkv, D],
      ],
    );
    const L = (qq: Float32Array, kk: Float32Array, vv: Float32Array) =>
      dot64(crossRef(qq, kk, vv, bias, mask, B, Tq, Tk, Hq, Hkv, D, 1), g);
    assert.ok(finiteDiffCheck(q, dq.toFloat32(), (x) => L(x, k, v), 10, 1e-3) < 2e-3, 'dq');
    assert.ok(finiteDiffCheck(k, dk.toFloat32(), (x) => L(q, x, v), 10, 1e-3) < 2e-3, 'dk');
    assert.ok(finiteDiffCheck(v, dv.toFloat32(), (x) => L(q, k, x), 10, 1e-3) < 2e-3, 'dv');
  }
  const q = Tensor.zeros([1, 3, 2, 4]),
    kv = Tensor.zeros([1, 5, 2, 4]);
  throwsWith(
    () => attentionForward(q, kv, kv, { causal: false, bias: Tensor.zeros([2, 3, 4]) }),
    ShapeError,
    /attention_forward/,
    /bias f32\[2,3,4\] must be \[2,3,5\]/,
  );
});

test('decoding a batch (one query per row, all heads of a cached position read once) equals each row decoded alone, bit for bit', () => {
  // B ≥ the thread count takes the batched decode path; B = 1 the general one
  const B = 5,
    Hq = 4,
    Hkv = 2,
    D = 24,
    cap = 40;
  for (const [kvLen, window] of [
    [33, 0],
    [40, 9],
    [1, 0],
  ]) {
    const q = randnArray(B * Hq * D),
      k = randnArray(B * cap * Hkv * D),
      v = randnArray(B * cap * Hkv * D);
    const mask = new BigInt64Array(B * cap);
    for (let b = 0; b < B; b++) for (let s = 0; s < cap; s++) mask[b * cap + s] = s < b || s >= kvLen ? 0n : 1n; // left padding of b rows
    const run = (bs: number[]) => {
      const n = bs.length;
      const pick = (x: Float32Array, per: number) => Float32Array.from(bs.flatMap((b) => Array.from(x.subarray(b * per, (b + 1) * per))));
      const m = BigInt64Array.from(bs.flatMap((b) => Array.from(mask.subarray(b * cap, (b + 1) * cap))));
      using qt = Tensor.from(pick(q, Hq * D), [n, 1, Hq, D]);
      using kt = Tensor.from(pick(k, cap * Hkv * D), [n, cap, Hkv, D]);
      using vt = Tensor.from(pick(v, cap * Hkv * D), [n, cap, Hkv, D]);
      using mt = Tensor.from(m, [n, cap]);
      const r = attentionForward(qt, kt, vt, { mask: mt, kvLen, window });
      const out = [r.out.toArray() as Float32Array, r.lse.toArray() as Float32Array];
      r.out.dispose();
      r.lse.dispose();
      return out;
    };
    const [out, lse] = run([0, 1, 2, 3, 4]);
    for (let b = 0; b < B; b++) {
      const [o1, l1] = run([b]);
      assert.deepEqual(
        Array.from(out.subarray(b * Hq * D, (b + 1) * Hq * D)),
        Array.from(o1),
        `row ${b} out (kvLen ${kvLen}, window ${window})`,
      );
      assert.deepEqual(Array.from(lse.subarray(b * Hq, (b + 1) * Hq)), Array.from(l1), `row ${b} lse`);
    }
  }
});
