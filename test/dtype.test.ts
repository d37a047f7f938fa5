// bf16 and f16 activations: every op accepts them and computes in f32. The oracle: the same op on
// f32 tensors holding exactly the rounded values, its outputs rounded to the activation dtype —
// equal bit for bit (in-place and accumulating outputs included).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, quantizeNF4, type DType } from '../lib/index.js';
import {
  convert,
  linearForward,
  linearBackward,
  loraLinearForward,
  loraLinearBackward,
  swigluForward,
  swigluBackward,
  geluForward,
  geluBackward,
  gegluForward,
  reluForward,
  tanhForward,
  tanhBackward,
  scaleForward,
  addForward,
  rmsnormForward,
  rmsnormBackward,
  layernormForward,
  layernormBackward,
  ropeForward,
  ropeBackward,
  attentionForward,
  attentionBackward,
  embeddingForward,
  embeddingBackward,
  gatherRowsForward,
  gatherRowsBackward,
  crossEntropyForward,
  crossEntropyBackward,
  bceWithLogitsForward,
  bceWithLogitsBackward,
  sliceColsForward,
  sliceColsBackward,
} from '../lib/ops/index.js';
import { randnArray, randInt } from './helpers.js';

const DTYPES = ['bf16', 'f16'] as const;
const ints = (a: number[], shape: number[]) => Tensor.from(BigInt64Array.from(a.map(BigInt)), shape);

/** A random activation of `dtype` and its exact f32 twin. */
function pair(shape: number[], dt: DType, scale = 1): [Tensor, Tensor] {
  const n = shape.reduce((a, b) => a * b, 1);
  const low = convert(Tensor.from(randnArray(n, scale), shape), dt);
  return [low, Tensor.from(low.toFloat32(), shape)];
}
/** `low` holds exactly `f32` rounded to low's dtype. */
function same(low: Tensor, f32: Tensor, what: string) {
  assert.equal(low.dtype !== 'f32', true, `${what}: output dtype ${low.dtype}`);
  assert.deepEqual(low.toArray(), convert(f32, low.dtype).toArray(), what);
}

for (const dt of DTYPES) {
  test(`${dt} activations: elementwise ops, norms, RoPE, slices equal the f32 op rounded`, () => {
    const n = randInt(100, 3000);
    const [g, gf] = pair([n], dt),
      [u, uf] = pair([n], dt),
      [dy, dyf] = pair([n], dt);
    same(swigluForward(g, u), swigluForward(gf, uf), 'swiglu');
    const sb = swigluBackward(dy, g, u),
      sf = swigluBackward(dyf, gf, uf);
    same(sb.dgate, sf.dgate, 'swiglu dgate');
    same(sb.dup, sf.dup, 'swiglu dup');
    same(geluForward(g, 'tanh'), geluForward(gf, 'tanh'), 'gelu');
    same(geluBackward(dy, g), geluBackward(dyf, gf), 'gelu backward');
    same(gegluForward(g, u), gegluForward(gf, uf), 'geglu');
    same(reluForward(g), reluForward(gf), 'relu');
    const t = tanhForward(g),
      tf = tanhForward(gf);
    same(t, tf, 'tanh');
    same(tanhBackward(dy, t), tanhBackward(dyf, convert(t, 'f32')), 'tanh backward (from the rounded output)');
    same(scaleForward(g, 0.37), scaleForward(gf, 0.37), 'scale');
    // in place: a += b
    const a = g.clone(),
      af = gf.clone();
    addForward(a, u, a);
    addForward(af, uf, af);
    same(a, af, 'add in place');

    const [R, C] = [randInt(2, 9), 64];
    const [x, xf] = pair([R, C], dt),
      [dyn, dynf] = pair([R, C], dt);
    const w = Tensor.from(randnArray(C, 0.5)),
      b = Tensor.from(randnArray(C, 0.1));
    const rn = rmsnormForward(x, w, 1e-5),
      rnf = rmsnormForward(xf, w, 1e-5);
    same(rn.y, rnf.y, 'rmsnorm');
    assert.deepEqual(rn.rstd.toArray(), rnf.rstd.toArray(), 'rmsnorm rstd stays f32');
    const rb = rmsnormBackward(dyn, x, w, rn.rstd),
      rbf = rmsnormBackward(dynf, xf, w, rnf.rstd);
    same(rb.dx, rbf.dx, 'rmsnorm dx');
    assert.deepEqual(rb.dw!.toArray(), rbf.dw!.toArray(), 'rmsnorm dw (f32)');
    const ln = layernormForward(x, w, b, 1e-5),
      lnf = layernormForward(xf, w, b, 1e-5);
    same(ln.y, lnf.y, 'layernorm');
    same(layernormBackward(dyn, x, w, ln.mean, ln.rstd).dx, layernormBackward(dynf, xf, w, lnf.mean, lnf.rstd).dx, 'layernorm dx');

    const [B, T, H, D] = [2, randInt(2, 12), 3, 16];
    const [q, qf] = pair([B, T, H, D], dt);
    const pos = ints(
      Array.from({ length: B * T }, (_, i) => i % T),
      [B, T],
    );
    same(ropeForward(q, pos, { theta: 1e4 }), ropeForward(qf, pos, { theta: 1e4 }), 'rope');
    const qi = q.clone(),
      qif = qf.clone();
    ropeBackward(qi, pos, { theta: 1e4, rotaryDim: 8, inPlace: true });
    ropeBackward(qif, pos, { theta: 1e4, rotaryDim: 8, inPlace: true });
    same(qi, qif, 'rope backward in place');

    const [m, mf] = pair([R, 24], dt);
    same(sliceColsForward(m, 5, 11), sliceColsForward(mf, 5, 11), 'slice');
    const [ds, dsf] = pair([R, 11], dt);
    const acc = m.clone(),
      accf = mf.clone();
    sliceColsBackward(ds, 5, acc);
    sliceColsBackward(dsf, 5, accf);
    same(acc, accf, 'slice backward adds into dx');
  });

  test(`${dt} activations: attention, embedding, gather, losses equal the f32 op rounded`, () => {
    const [B, T, Hq, Hkv, D] = [2, randInt(3, 10), 4, 2, 16];
    const [q, qf] = pair([B, T, Hq, D], dt),
      [k, kf] = pair([B, T, Hkv, D], dt),
      [v, vf] = pair([B, T, Hkv, D], dt);
    const mask = ints(
      Array.from({ length: B * T }, (_, i) => (i >= T && i % T === 0 ? 0 : 1)),
      [B, T],
    );
    const o = { mask, window: 3 };
    const f = attentionForward(q, k, v, o),
      ff = attentionForward(qf, kf, vf, o);
    same(f.out, ff.out, 'attention out');
    assert.deepEqual(f.lse.toArray(), ff.lse.toArray(), 'attention lse (f32)');
    const [g, gf] = pair(q.shape as number[], dt);
    const bw = attentionBackward(g, q, k, v, f.out, f.lse, o);
    const bwf = attentionBackward(gf, qf, kf, vf, convert(f.out, 'f32'), f.lse, o);
    same(bw.dq, bwf.dq, 'dq');
    same(bw.dk, bwf.dk, 'dk');
    same(bw.dv, bwf.dv, 'dv');

    const [V, C] = [31, 24];
    const table = Tensor.from(randnArray(V * C), [V, C]);
    const ids = ints([3, 0, 30, 3, 7, 12], [2, 3]);
    same(embeddingForward(ids, table, dt), embeddingForward(ids, table), 'embedding into the activation dtype');
    const [de, def] = pair([2, 3, C], dt);
    const dt1 = Tensor.zeros([V, C]),
      dt2 = Tensor.zeros([V, C]);
    embeddingBackward(ids, de, dt1);
    embeddingBackward(ids, def, dt2);
    assert.deepEqual(dt1.toArray(), dt2.toArray(), 'embedding backward into an f32 table grad');
    const [x3, x3f] = pair([2, 5, C], dt);
    const idx = ints([4, 1], [2]);
    same(gatherRowsForward(x3, idx), gatherRowsForward(x3f, idx), 'gather');
    const [dg, dgf] = pair([2, C], dt);
    same(gatherRowsBackward(dg, idx, [2, 5, C]), gatherRowsBackward(dgf, idx, [2, 5, C]), 'gather backward');

    const [lg, lgf] = pair([7, 40], dt, 3);
    const tg = ints([1, 39, -100, 0, 5, 5, 20], [7]);
    assert.equal(crossEntropyForward(lg, tg).loss, crossEntropyForward(lgf, tg).loss, 'cross-entropy loss');
    same(crossEntropyBackward(lg, tg, 0.5), crossEntropyBackward(lgf, tg, 0.5), 'cross-entropy backward');
    const [bl, blf] = pair([3, 5], dt);
    const y = Tensor.from(
      Float32Array.from({ length: 15 }, (_, i) => i % 2),
      [3, 5],
    );
    assert.equal(bceWithLogitsForward(bl, y), bceWithLogitsForward(blf, y), 'bce loss');
    same(bceWithLogitsBackward(bl, y), bceWithLogitsBackward(blf, y), 'bce backward');
  });

  test(`${dt} activations: linear and LoRA (f32 and NF4 weights) equal the f32 op rounded; f32 grads accumulate`, () => {
    const [M, K, N, r] = [randInt(2, 20), 64, randInt(3, 40), 4];
    const [x, xf] = pair([M, K], dt),
      [dy, dyf] = pair([M, N], dt);
    const wf = Tensor.from(randnArray(N * K, 0.2), [N, K]);
    const bias = Tensor.from(randnArray(N, 0.1));
    for (const [name, w] of [
      ['f32', wf],
      ['nf4', quantizeNF4(wf, undefined, { doubleQuant: true })],
    ] as const) {
      same(linearForward(x, w, bias), linearForward(xf, w, bias), `linear ${name}`);
      same(linearBackward(dy, x, w).dx!, linearBackward(dyf, xf, w).dx!, `linear dx ${name}`);
      const A = Tensor.from(randnArray(r * K, 0.1), [r, K]),
        Bm = Tensor.from(randnArray(N * r, 0.1), [N, r]);
      const lora = { A, B: Bm, scale: 2, dropout: 0.1, seed: 5 };
      const lf = loraLinearForward(x, w, bias, lora),
        lff = loraLinearForward(xf, w, bias, lora);
      same(lf.y, lff.y, `lora y ${name}`);
      assert.deepEqual(lf.xa.toArray(), lff.xa.toArray(), `lora xa (f32) ${name}`);
      const dA = Tensor.from(randnArray(r * K), [r, K]),
        dB = Tensor.from(randnArray(N * r), [N, r]);
      const dA2 = dA.clone(),
        dB2 = dB.clone();
      const lb = loraLinearBackward(dy, x, w, lora, lf.xa, { dA, dB, accumulate: true });
      const lbf = loraLinearBackward(dyf, xf, w, lora, lff.xa, { dA: dA2, dB: dB2, accumulate: true });
      same(lb.dx!, lbf.dx!, `lora dx ${name}`);
      assert.deepEqual(dA.toArray(), dA2.toArray(), `lora dA accumulated ${name}`);
      assert.deepEqual(dB.toArray(), dB2.toArray(), `lora dB accumulated ${name}`);
    }
  });
}
