// Every op on CUDA against the CPU reference (fresh random inputs, odd sizes; f32 to ~1e-5
// relative, NF4 and conversions bit for bit), and the model engine on CUDA against the HF fixtures. `npm run test:gpu` runs this file; without a usable
// GPU each test is skipped with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, quantizeNF4, info, AdamW, DeviceError, setMatmulPrecision, getMatmulPrecision } from '../lib/index.js';
import { dequantizeNF4 } from '../lib/ops/index.js';
import {
  nf4To,
  convert,
  linearForward,
  linearForwardMany,
  gateUpSwiglu,
  linearBackward,
  loraLinearForward,
  loraLinearBackward,
  swigluForward,
  swigluBackward,
  geluForward,
  geluBackward,
  gegluForward,
  gegluBackward,
  reluForward,
  reluBackward,
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
  lastTokenIndex,
  crossEntropyForward,
  crossEntropyBackward,
  bceWithLogitsForward,
  bceWithLogitsBackward,
  argmaxRows,
  sliceColsForward,
  sliceColsBackward,
  cacheWrite,
  StepGraph,
  useCublasLt,
  type Weight,
} from '../lib/ops/index.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel } from '../lib/index.js';
import { runSetting } from '../lib/experiments/run.js';
import { ByteTokenizer } from '../lib/io/tokenizer.js';
import { openSafetensors, readTensor } from '../lib/io/safetensors.js';
import { randnArray, randInt, relDiff, throwsWith, sharedPath, skipMessage, prepareSynthetic } from './helpers.js';

const cuda = info().cuda;
const skip = cuda.usable ? false : `no usable CUDA device: ${cuda.reason}`;

test('nf4_dequantize on CUDA equals the CPU bit for bit (plain and double quant, f32/f16/bf16 out)', { skip }, () => {
  for (const bs of [32, 64, 256, 4096]) {
    const n = randInt(1, 5) * bs + 2 * randInt(0, 30);
    for (const dq of [false, true]) {
      const q = quantizeNF4(randnArray(n), [n], { blocksize: bs, doubleQuant: dq });
      const qd = nf4To(q, 'cuda');
      for (const dt of ['f32', 'f16', 'bf16'] as const) {
        const cpu = dequantizeNF4(q, { dtype: dt }).toArray();
        const gpu = dequantizeNF4(qd, { dtype: dt });
        assert.equal(gpu.device, 'cuda');
        assert.deepEqual(gpu.toArray(), cpu, `bs ${bs} dq ${dq} ${dt}`);
      }
    }
  }
});

test('convert on CUDA equals the CPU bit for bit', { skip }, () => {
  const x = randnArray(100003, 50);
  x[0] = 65520;
  x[1] = 1e-8;
  x[2] = NaN;
  x[3] = -Infinity;
  for (const [from, to] of [
    ['f32', 'bf16'],
    ['f32', 'f16'],
    ['bf16', 'f32'],
    ['f16', 'f32'],
    ['bf16', 'f16'],
  ] as const) {
    const src = convert(Tensor.from(x), from);
    const cpu = convert(src, to).toArray();
    const gpu = convert(src.to('cuda'), to);
    assert.equal(gpu.device, 'cuda');
    assert.deepEqual(gpu.toArray(), cpu, `${from} -> ${to}`);
  }
});

const up = (t: Tensor) => t.to('cuda');
const f32 = (x: Tensor | null) => x!.toFloat32();
function close(gpu: Tensor | null, cpu: Tensor | null, what: string, tol = 1e-5): void {
  assert.equal(gpu!.device, 'cuda', `${what} stays on the device`);
  const d = relDiff(f32(gpu), f32(cpu));
  assert.ok(d < tol, `${what}: ${d}`);
}
const ints = (a: number[], shape: number[]) => Tensor.from(BigInt64Array.from(a.map(BigInt)), shape);

test('elementwise ops (SwiGLU, GELU erf/tanh, GeGLU, ReLU, tanh, scale, add) forward and backward', { skip }, () => {
  const n = randInt(1000, 70000);
  const a = Tensor.from(randnArray(n, 2)),
    b = Tensor.from(randnArray(n)),
    g = Tensor.from(randnArray(n));
  const [ga, gb, gg] = [up(a), up(b), up(g)];
  close(swigluForward(ga, gb), swigluForward(a, b), 'swiglu');
  const sc = swigluBackward(g, a, b),
    sg = swigluBackward(gg, ga, gb);
  close(sg.dgate, sc.dgate, 'swiglu dgate');
  close(sg.dup, sc.dup, 'swiglu dup');
  for (const m of ['none', 'tanh'] as const) {
    close(geluForward(ga, m), geluForward(a, m), `gelu ${m}`);
    close(geluBackward(gg, ga, m), geluBackward(g, a, m), `gelu ${m} backward`);
    close(gegluForward(ga, gb, m), gegluForward(a, b, m), `geglu ${m}`);
    const c = gegluBackward(g, a, b, m),
      d = gegluBackward(gg, ga, gb, m);
    close(d.dgate, c.dgate, 'geglu dgate');
    close(d.dup, c.dup, 'geglu dup');
  }
  close(reluForward(ga), reluForward(a), 'relu');
  close(reluBackward(gg, ga), reluBackward(g, a), 'relu backward');
  close(tanhForward(ga), tanhForward(a), 'tanh');
  close(tanhBackward(gg, ga), tanhBackward(g, a), 'tanh backward');
  close(scaleForward(ga, 0.37), scaleForward(a, 0.37), 'scale');
  close(addForward(ga, gb), addForward(a, b), 'add');
});

test('RMSNorm and LayerNorm forward, dx, dw, db', { skip }, () => {
  const [R, D] = [randInt(3, 40), randInt(33, 700)];
  const x = Tensor.from(randnArray(R * D), [R, D]),
    w = Tensor.from(randnArray(D)),
    bb = Tensor.from(randnArray(D)),
    g = Tensor.from(randnArray(R * D), [R, D]);
  const c = rmsnormForward(x, w, 1e-6),
    d = rmsnormForward(up(x), up(w), 1e-6);
  close(d.y, c.y, 'rmsnorm');
  close(d.rstd, c.rstd, 'rmsnorm rstd');
  const cb = rmsnormBackward(g, x, w, c.rstd, { dw: true }),
    db = rmsnormBackward(up(g), up(x), up(w), d.rstd, { dw: true });
  close(db.dx, cb.dx, 'rmsnorm dx');
  close(db.dw!, cb.dw!, 'rmsnorm dw');
  const l = layernormForward(x, w, bb, 1e-5),
    m = layernormForward(up(x), up(w), up(bb), 1e-5);
  close(m.y, l.y, 'layernorm');
  const lb = layernormBackward(g, x, w, l.mean, l.rstd, { dw: true, db: true });
  const mb = layernormBackward(up(g), up(x), up(w), m.mean, m.rstd, { dw: true, db: true });
  close(mb.dx, lb.dx, 'layernorm dx');
  close(mb.dw!, lb.dw!, 'layernorm dw');
  close(mb.db!, lb.db!, 'layernorm db');
});

test('RoPE forward/backward (partial rotary) and column slices', { skip }, () => {
  const [B, T, H, D] = [2, randInt(3, 30), 3, 16];
  const x = Tensor.from(randnArray(B * T * H * D), [B, T, H, D]);
  const pos = ints(
    Array.from({ length: B * T }, (_, i) => (i * 7) % 50),
    [B, T],
  );
  for (const rot of [16, 8]) {
    close(
      ropeForward(up(x), up(pos), { rotaryDim: rot, theta: 10000 }),
      ropeForward(x, pos, { rotaryDim: rot, theta: 10000 }),
      `rope ${rot}`,
    );
    close(
      ropeBackward(up(x), pos, { rotaryDim: rot, theta: 1e6 }),
      ropeBackward(x, pos, { rotaryDim: rot, theta: 1e6 }),
      `rope backward ${rot}`,
    );
  }
  const m = Tensor.from(randnArray(37 * 24), [37, 24]);
  close(sliceColsForward(up(m), 5, 11), sliceColsForward(m, 5, 11), 'slice');
  const dy = Tensor.from(randnArray(37 * 11), [37, 11]);
  const dxc = Tensor.zeros([37, 24]),
    dxg = up(dxc);
  sliceColsBackward(dy, 5, dxc);
  sliceColsBackward(up(dy), 5, dxg);
  close(dxg, dxc, 'slice backward');
});

/** q, k, v (and the options, on the host and on the GPU) of an attention case: the last two keys of
 * every batch row after the first padded, a T5-style bias when asked */
function attentionCase(c: {
  B: number;
  Tq: number;
  Tk: number;
  Hq: number;
  Hkv: number;
  D: number;
  window: number;
  causal: boolean;
  bias: boolean;
}) {
  const q = Tensor.from(randnArray(c.B * c.Tq * c.Hq * c.D), [c.B, c.Tq, c.Hq, c.D]);
  const k = Tensor.from(randnArray(c.B * c.Tk * c.Hkv * c.D), [c.B, c.Tk, c.Hkv, c.D]);
  const v = Tensor.from(randnArray(c.B * c.Tk * c.Hkv * c.D), [c.B, c.Tk, c.Hkv, c.D]);
  const mask = ints(
    Array.from({ length: c.B * c.Tk }, (_, i) => (i >= c.Tk && i % c.Tk >= c.Tk - 2 ? 0 : 1)),
    [c.B, c.Tk],
  );
  const bias = c.bias ? Tensor.from(randnArray(c.Hq * c.Tq * c.Tk), [c.Hq, c.Tq, c.Tk]) : null;
  const o = { mask, window: c.window, causal: c.causal, bias, scale: c.bias ? 1 : undefined };
  const og = { ...o, mask: up(mask), bias: bias ? up(bias) : null };
  return { q, k, v, o, og };
}

test('attention forward/backward on CUDA: causal + padding + GQA + window, T5-style bias, KV cache', { skip }, () => {
  const cases = [
    { B: 2, Tq: 13, Tk: 13, Hq: 4, Hkv: 2, D: 16, window: 0, causal: true, bias: false },
    { B: 3, Tq: 9, Tk: 9, Hq: 4, Hkv: 1, D: 64, window: 4, causal: true, bias: false },
    { B: 2, Tq: 7, Tk: 11, Hq: 4, Hkv: 4, D: 32, window: 0, causal: false, bias: true },
    { B: 2, Tq: 5, Tk: 5, Hq: 2, Hkv: 2, D: 128, window: 0, causal: true, bias: true },
  ];
  for (const c of cases) {
    const { q, k, v, o, og } = attentionCase(c);
    const cf = attentionForward(q, k, v, o),
      gf = attentionForward(up(q), up(k), up(v), og);
    const what = JSON.stringify(c);
    close(gf.out, cf.out, `attention ${what}`);
    const g = Tensor.from(randnArray(c.B * c.Tq * c.Hq * c.D), q.shape);
    const cb = attentionBackward(g, q, k, v, cf.out, cf.lse, o),
      gb = attentionBackward(up(g), up(q), up(k), up(v), gf.out, gf.lse, og);
    close(gb.dq, cb.dq, `dq ${what}`, 1e-4);
    close(gb.dk, cb.dk, `dk ${what}`, 1e-4);
    close(gb.dv, cb.dv, `dv ${what}`, 1e-4);
  }
  // a KV cache: 3 new queries against 10 valid of 16 cached positions
  const [B, H, D, cap] = [2, 2, 16, 16];
  const q = Tensor.from(randnArray(B * 3 * H * D), [B, 3, H, D]);
  const k = Tensor.from(randnArray(B * cap * H * D), [B, cap, H, D]),
    v = Tensor.from(randnArray(B * cap * H * D), [B, cap, H, D]);
  const mask = ints(
    Array.from({ length: B * cap }, (_, i) => (i % cap < 10 ? 1 : 0)),
    [B, cap],
  );
  const ref = attentionForward(q, k, v, { mask, kvLen: 10 }).out;
  close(attentionForward(up(q), up(k), up(v), { mask: up(mask), kvLen: 10 }).out, ref, 'kv cache, i64 mask on the GPU (used in place)');
  close(attentionForward(up(q), up(k), up(v), { mask, kvLen: 10 }).out, ref, 'kv cache, mask on the host (uploaded)');
  const m32 = Tensor.from(Int32Array.from(mask.toArray() as BigInt64Array, Number), mask.shape);
  close(attentionForward(up(q), up(k), up(v), { mask: up(m32), kvLen: 10 }).out, ref, 'kv cache, i32 mask on the GPU (checked, widened)');
});

test(
  'decoding attention on CUDA (one query row, split over keys; f32 and 16-bit in place, GQA, padding, window) follows the CPU',
  { skip },
  () => {
    for (const dtype of ['f32', 'bf16', 'f16'] as const)
      for (const [B, Tk, cap, Hq, Hkv, D, window, causal] of [
        [2, 77, 80, 8, 2, 64, 0, true],
        [1, 1500, 1536, 32, 8, 128, 0, true], // Mistral-7B's heads at a long cache: many splits
        [3, 40, 40, 8, 1, 80, 16, true],
        [2, 33, 33, 14, 2, 64, 0, false],
      ] as const) {
        const mk = (n: number, shape: number[]) => Tensor.from(randnArray(n), shape, { dtype });
        const q = mk(B * Hq * D, [B, 1, Hq, D]),
          k = mk(B * cap * Hkv * D, [B, cap, Hkv, D]),
          v = mk(B * cap * Hkv * D, [B, cap, Hkv, D]);
        // row b: b positions of left padding; positions past Tk unfilled
        const mask = ints(
          Array.from({ length: B * cap }, (_, i) => (i % cap >= Math.floor(i / cap) && i % cap < Tk ? 1 : 0)),
          [B, cap],
        );
        const o = { mask, kvLen: Tk, window, causal };
        const c = attentionForward(q, k, v, o),
          g = attentionForward(up(q), up(k), up(v), { ...o, mask: up(mask) });
        const what = `${dtype} B${B} Tk${Tk} cap${cap} Hq${Hq} Hkv${Hkv} D${D}`;
        assert.equal(g.out.dtype, dtype, `${what}: out in the activations' dtype`);
        close(g.out, c.out, `out ${what}`, dtype === 'f32' ? 1e-5 : 1e-2);
        close(g.lse, c.lse, `lse ${what}`, 1e-5);
      }
  },
);

test('embedding, row gather, last token, cross-entropy and BCE on CUDA', { skip }, () => {
  const [V, D, n] = [97, 40, 53];
  const table = Tensor.from(randnArray(V * D), [V, D]);
  const ids = ints(
    Array.from({ length: n }, (_, i) => (i * 31) % V),
    [n],
  );
  close(embeddingForward(up(ids), up(table)), embeddingForward(ids, table), 'embedding');
  close(embeddingForward(ids, up(table)), embeddingForward(ids, table), 'embedding with host ids');
  const dout = Tensor.from(randnArray(n * D), [n, D]);
  const dtc = Tensor.zeros([V, D]),
    dtg = up(dtc);
  embeddingBackward(ids, dout, dtc);
  embeddingBackward(up(ids), up(dout), dtg);
  close(dtg, dtc, 'embedding backward (repeated ids add up)');
  const x = Tensor.from(randnArray(3 * 7 * 5), [3, 7, 5]),
    idx = ints([6, 0, 3], [3]);
  close(gatherRowsForward(up(x), up(idx)), gatherRowsForward(x, idx), 'gather');
  const gy = Tensor.from(randnArray(15), [3, 5]);
  close(gatherRowsBackward(up(gy), up(idx), x.shape), gatherRowsBackward(gy, idx, x.shape), 'gather backward');
  const tok = ints([5, 6, 0, 0, 7, 0, 0, 0, 9, 9, 9, 9], [3, 4]);
  assert.deepEqual(
    Array.from(lastTokenIndex(up(tok), 0).toArray() as BigInt64Array),
    Array.from(lastTokenIndex(tok, 0).toArray() as BigInt64Array),
  );
  const [R, Vc] = [randInt(5, 40), randInt(100, 5000)];
  const logits = Tensor.from(randnArray(R * Vc, 3), [R, Vc]);
  const t = ints(
    Array.from({ length: R }, (_, i) => (i % 4 === 1 ? -100 : (i * 13) % Vc)),
    [R],
  );
  const lc = crossEntropyForward(logits, t),
    lg = crossEntropyForward(up(logits), up(t));
  assert.ok(Math.abs(lg.loss - lc.loss) / lc.loss < 1e-9 && lg.count === lc.count, `ce ${lg.loss} vs ${lc.loss}`);
  close(crossEntropyBackward(up(logits), up(t), 0.5), crossEntropyBackward(logits, t, 0.5), 'ce backward');
  const bx = Tensor.from(randnArray(77, 3), [7, 11]),
    by = Tensor.from(
      Float32Array.from({ length: 77 }, (_, i) => (i % 3 === 0 ? 1 : 0)),
      [7, 11],
    );
  assert.ok(Math.abs(bceWithLogitsForward(up(bx), up(by)) - bceWithLogitsForward(bx, by)) < 1e-12);
  close(bceWithLogitsBackward(up(bx), up(by), 2), bceWithLogitsBackward(bx, by, 2), 'bce backward');
});

test('linear forward/backward with f32, bf16, f16 and NF4 weights; LoRA with dropout; NF4 and dense GEMV (M ≤ 8)', { skip }, () => {
  for (const [M, K, N] of [
    [randInt(1, 70), 96, randInt(20, 130)],
    [131, 256, 67],
    [1, 512, 300],
    [5, 100, 37],
  ]) {
    const x = Tensor.from(randnArray(M * K), [M, K]),
      dy = Tensor.from(randnArray(M * N), [M, N]);
    const wf = Tensor.from(randnArray(N * K, 0.2), [N, K]),
      bias = Tensor.from(randnArray(N));
    const weights: [string, Weight, Weight][] = [
      ['f32', wf, up(wf)],
      ['bf16', convert(wf, 'bf16'), up(convert(wf, 'bf16'))],
      ['f16', convert(wf, 'f16'), up(convert(wf, 'f16'))],
    ];
    const q = quantizeNF4(wf, undefined, { blocksize: 64, doubleQuant: true });
    weights.push(['nf4', q, nf4To(q, 'cuda')]);
    for (const [name, wc, wg] of weights) {
      const what = `${name} ${M}×${K}×${N}`;
      close(linearForward(up(x), wg, up(bias)), linearForward(x, wc, bias), `linear ${what}`);
      const c = linearBackward(dy, x, wc, { dw: name === 'f32', dbias: true });
      const g = linearBackward(up(dy), up(x), wg, { dw: name === 'f32', dbias: true });
      close(g.dx, c.dx, `dx ${what}`);
      close(g.dbias, c.dbias, `dbias ${what}`);
      if (name === 'f32') close(g.dw, c.dw, `dw ${what}`);
      const r = { f32: 8, bf16: 2, f16: 40, nf4: 80 }[name]!,
        A = Tensor.from(randnArray(r * K, 0.1), [r, K]),
        Bm = Tensor.from(randnArray(N * r, 0.1), [N, r]);
      const lc = { A, B: Bm, scale: 2, dropout: 0.1, seed: 1234 },
        lg = { ...lc, A: up(A), B: up(Bm) };
      const fc = loraLinearForward(x, wc, bias, lc),
        fg = loraLinearForward(up(x), wg, up(bias), lg);
      close(fg.y, fc.y, `lora y ${what}`);
      close(fg.xa, fc.xa, `lora xa ${what}`);
      const bc = loraLinearBackward(dy, x, wc, lc, fc.xa),
        bg = loraLinearBackward(up(dy), up(x), wg, lg, fg.xa);
      close(bg.dx, bc.dx, `lora dx ${what}`);
      close(bg.dA, bc.dA, `lora dA ${what}`);
      close(bg.dB, bc.dB, `lora dB ${what}`);
    }
  }
});

test("NF4 quantize on CUDA writes the CPU's bytes; AdamW on CUDA follows the CPU (f32 and bf16 + master, clipping)", { skip }, () => {
  for (const bs of [64, 256]) {
    const n = randInt(2, 9) * bs + 2 * randInt(0, 20);
    const x = Tensor.from(randnArray(n));
    for (const dq of [false, true]) {
      const c = quantizeNF4(x, [n], { blocksize: bs, doubleQuant: dq }),
        g = quantizeNF4(up(x), [n], { blocksize: bs, doubleQuant: dq });
      assert.equal(g.weight.device, 'cuda');
      assert.deepEqual(g.weight.toArray(), c.weight.toArray(), `packed bs ${bs} dq ${dq}`);
      assert.deepEqual(g.absmax.toArray(), c.absmax.toArray(), `absmax bs ${bs} dq ${dq}`);
      assert.equal(g.offset, c.offset);
      assert.deepEqual(dequantizeNF4(g).toArray(), dequantizeNF4(c).toArray(), `dequantized bs ${bs} dq ${dq}`);
    }
  }
  const sizes = [70001, 33, 4096];
  const mk = () => sizes.map((n) => Tensor.from(randnArray(n, 0.1)));
  const pc = mk(),
    pg = pc.map(up),
    grads = sizes.map((n) => Tensor.from(randnArray(n)));
  const pb = convert(pc[2], 'bf16'),
    pbg = up(pb);
  const oc = new AdamW([...pc, pb], { lr: 1e-2, weightDecay: 0.01, maxGradNorm: 0.5 }),
    og = new AdamW([...pg, pbg], { lr: 1e-2, weightDecay: 0.01, maxGradNorm: 0.5 });
  for (let s = 0; s < 3; s++) {
    const rc = oc.stepWith([...grads, grads[2]]),
      rg = og.stepWith([...grads.map(up), up(grads[2])]);
    assert.ok(Math.abs(rg.gradNorm - rc.gradNorm) / rc.gradNorm < 1e-12, `grad norm ${rg.gradNorm} vs ${rc.gradNorm}`);
  }
  pc.forEach((p, i) => close(pg[i], p, `adamw param ${i}`, 1e-6));
  assert.deepEqual(pbg.toArray(), pb.toArray(), 'bf16 param through its master');
  // skipNonFinite: false without clipping is one pass on CUDA (the norm summed during the update)
  const qc = mk(),
    qg = qc.map(up);
  const lc = new AdamW(qc, { lr: 1e-2, skipNonFinite: false }),
    lg = new AdamW(qg, { lr: 1e-2, skipNonFinite: false });
  for (let s = 0; s < 3; s++) {
    const rc = lc.stepWith(grads),
      rg = lg.stepWith(grads.map(up));
    assert.ok(Math.abs(rg.gradNorm - rc.gradNorm) / rc.gradNorm < 1e-12, `one pass: grad norm ${rg.gradNorm} vs ${rc.gradNorm}`);
  }
  qc.forEach((p, i) => close(qg[i], p, `adamw one pass param ${i}`, 1e-6));
});

// With cuBLASLt on the machine the bf16 matmuls run there; our own tensor-core kernel is checked too.
const ltBackends = cuda.cublasLt?.loaded ? [true, false] : [false];
test(
  `bf16 and f16 matmul precision (tensor cores${cuda.cublasLt?.loaded ? ': cuBLASLt and our kernel' : ''}): linear and LoRA forward/backward within their rounding of the CPU`,
  { skip },
  () => {
    try {
      for (const [prec, tol] of [
        ['bf16', 1e-2],
        ['f16', 3e-3],
      ] as const)
        for (const lt of ltBackends) {
          setMatmulPrecision(prec);
          assert.equal(getMatmulPrecision(), prec);
          assert.equal(useCublasLt(lt), lt);
          for (const [M, K, N] of [
            [200, 256, 136],
            [64, 96, 64],
            [130, 4096, 70],
          ]) {
            const x = Tensor.from(randnArray(M * K), [M, K]),
              dy = Tensor.from(randnArray(M * N), [M, N]);
            const wf = Tensor.from(randnArray(N * K, 0.2), [N, K]);
            const q = quantizeNF4(wf, undefined, { blocksize: 64, doubleQuant: true });
            const wb = convert(wf, 'bf16'),
              wh = convert(wf, 'f16');
            for (const [name, wc, wg] of [
              ['f32', wf, up(wf)],
              ['bf16', wb, up(wb)],
              ['f16', wh, up(wh)],
              ['nf4', q, nf4To(q, 'cuda')],
            ] as [string, Weight, Weight][]) {
              const what = `${prec} ${lt ? 'cuBLASLt' : 'ours'} ${name} ${M}×${K}×${N}`;
              close(linearForward(up(x), wg), linearForward(x, wc), `linear ${what}`, tol);
              close(linearBackward(up(dy), up(x), wg).dx, linearBackward(dy, x, wc).dx, `dx ${what}`, tol);
              const r = 16,
                A = Tensor.from(randnArray(r * K, 0.1), [r, K]),
                Bm = Tensor.from(randnArray(N * r, 0.1), [N, r]);
              const lc = { A, B: Bm, scale: 2, dropout: 0.05, seed: 99 },
                lg = { ...lc, A: up(A), B: up(Bm) };
              const fc = loraLinearForward(x, wc, null, lc),
                fg = loraLinearForward(up(x), wg, null, lg);
              close(fg.y, fc.y, `lora y ${what}`, tol);
              const bc = loraLinearBackward(dy, x, wc, lc, fc.xa),
                bg = loraLinearBackward(up(dy), up(x), wg, lg, fg.xa);
              close(bg.dx, bc.dx, `lora dx ${what}`, tol);
              close(bg.dA, bc.dA, `lora dA ${what}`, tol);
              close(bg.dB, bc.dB, `lora dB ${what}`, tol);
              if (name === 'f32') continue;
              // 16-bit activations read and written in place (the tensor-core kernel's A, cuBLASLt's A and C)
              // against the CPU's staged path on the same 16-bit values
              const x16 = convert(x, prec),
                dy16 = convert(dy, prec);
              close(linearForward(up(x16), wg), linearForward(x16, wc), `linear ${prec} activations ${what}`, 2 * tol);
              close(linearBackward(up(dy16), up(x16), wg).dx, linearBackward(dy16, x16, wc).dx, `dx ${prec} activations ${what}`, 2 * tol);
              const f16c = loraLinearForward(x16, wc, null, lc),
                f16g = loraLinearForward(up(x16), wg, null, lg);
              assert.equal(f16g.y.dtype, prec);
              close(f16g.y, f16c.y, `lora y ${prec} activations ${what}`, 2 * tol);
              const b16c = loraLinearBackward(dy16, x16, wc, lc, f16c.xa),
                b16g = loraLinearBackward(up(dy16), up(x16), wg, lg, f16g.xa);
              close(b16g.dx, b16c.dx, `lora dx ${prec} activations ${what}`, 2 * tol);
              close(b16g.dA, b16c.dA, `lora dA ${prec} activations ${what}`, 2 * tol);
            }
          }
        }
    } finally {
      useCublasLt(true);
      setMatmulPrecision('highest');
    }
  },
);

test(
  'attention forward and backward on tensor cores (matmul precision bf16/f16, head sizes up to 128) within their rounding of the CPU',
  { skip },
  () => {
    try {
      for (const [prec, tol] of [
        ['bf16', 2e-2],
        ['f16', 5e-3],
      ] as const) {
        setMatmulPrecision(prec);
        for (const c of [
          { B: 2, Tq: 13, Tk: 13, Hq: 4, Hkv: 2, D: 16, window: 0, causal: true, bias: false },
          { B: 3, Tq: 9, Tk: 9, Hq: 4, Hkv: 1, D: 64, window: 4, causal: true, bias: false },
          { B: 2, Tq: 7, Tk: 11, Hq: 4, Hkv: 4, D: 32, window: 0, causal: false, bias: true },
          { B: 1, Tq: 150, Tk: 150, Hq: 4, Hkv: 2, D: 80, window: 0, causal: true, bias: false },
          { B: 2, Tq: 130, Tk: 130, Hq: 2, Hkv: 2, D: 128, window: 70, causal: true, bias: true },
        ]) {
          const { q, k, v, o, og } = attentionCase(c);
          const cf = attentionForward(q, k, v, o),
            gf = attentionForward(up(q), up(k), up(v), og);
          const what = `${prec} ${JSON.stringify(c)}`;
          close(gf.out, cf.out, `tensor-core attention out ${what}`, tol);
          close(gf.lse, cf.lse, `tensor-core attention lse ${what}`, tol);
          const g = Tensor.from(randnArray(c.B * c.Tq * c.Hq * c.D), q.shape);
          const cb = attentionBackward(g, q, k, v, cf.out, cf.lse, o),
            gb = attentionBackward(up(g), up(q), up(k), up(v), gf.out, gf.lse, og);
          close(gb.dq, cb.dq, `tensor-core attention dq ${what}`, 1.5 * tol);
          close(gb.dk, cb.dk, `tensor-core attention dk ${what}`, 1.5 * tol);
          close(gb.dv, cb.dv, `tensor-core attention dv ${what}`, 1.5 * tol);
          // activations of the precision's own type are read and written in place
          const [q16, k16, v16, g16] = [q, k, v, g].map((t) => convert(t, prec));
          const c16 = attentionForward(q16, k16, v16, o),
            g16f = attentionForward(up(q16), up(k16), up(v16), og);
          assert.equal(g16f.out.dtype, prec);
          close(g16f.out, c16.out, `tensor-core attention out, ${prec} activations ${what}`, 2 * tol);
          const c16b = attentionBackward(g16, q16, k16, v16, c16.out, c16.lse, o),
            g16b = attentionBackward(up(g16), up(q16), up(k16), up(v16), g16f.out, g16f.lse, og);
          close(g16b.dq, c16b.dq, `tensor-core attention dq, ${prec} activations ${what}`, 2 * tol);
          close(g16b.dk, c16b.dk, `tensor-core attention dk, ${prec} activations ${what}`, 2 * tol);
          close(g16b.dv, c16b.dv, `tensor-core attention dv, ${prec} activations ${what}`, 2 * tol);
        }
      }
    } finally {
      setMatmulPrecision('highest');
    }
  },
);

test('cuBLASLt is reported: loaded with its library and version, or why not', { skip }, () => {
  const lt = cuda.cublasLt;
  if (lt.loaded) {
    assert.ok(lt.library.includes('cublasLt') && lt.version > 0, JSON.stringify(lt));
  } else {
    assert.ok(lt.reason.length > 0 && !lt.enabled, JSON.stringify(lt));
    assert.equal(useCublasLt(true), false);
  }
});

test('a CPU weight with CUDA activations is a clear device error', { skip }, () => {
  const x = Tensor.zeros([2, 4], 'f32', 'cuda'),
    w = Tensor.zeros([3, 4]);
  throwsWith(() => linearForward(x, w), DeviceError, /linear_forward/, /w is on the CPU but the activations are on cuda/);
});

// The model engine on CUDA against the same transformers + peft golden outputs as on the CPU.
test(
  'linear and LoRA forward into a residual on CUDA (NF4 GEMV, dense GEMV, GEMM; f32 and bf16 activations) follow the CPU',
  { skip },
  () => {
    for (const [M, K, N] of [
      [1, 256, 96],
      [4, 128, 40],
      [40, 256, 72],
    ])
      for (const act of ['f32', 'bf16'] as const)
        for (const wkind of ['f32', 'nf4'] as const) {
          const wf = Tensor.from(randnArray(N * K), [N, K]);
          const w = wkind === 'nf4' ? quantizeNF4(wf, undefined, { blocksize: 64 }) : wf;
          const wc = wkind === 'nf4' ? nf4To(w as ReturnType<typeof quantizeNF4>, 'cuda') : up(wf);
          const x = Tensor.from(randnArray(M * K), [M, K], { dtype: act }),
            res = Tensor.from(randnArray(M * N), [M, N], { dtype: act }),
            bias = Tensor.from(randnArray(N));
          const want = linearForward(x, w, bias, res.clone()).toFloat32();
          const got = linearForward(up(x), wc, up(bias), up(res)).toFloat32();
          const tol = act === 'f32' ? 1e-5 : 2e-2;
          assert.ok(relDiff(got, want) < tol, `${act} ${wkind} ${M}x${K}x${N}: ${relDiff(got, want)}`);
          const lora = { A: Tensor.from(randnArray(8 * K), [8, K]), B: Tensor.from(randnArray(N * 8), [N, 8]), scale: 2 };
          const lw = loraLinearForward(x, w, bias, lora, res.clone()),
            lg = loraLinearForward(up(x), wc, up(bias), { ...lora, A: up(lora.A), B: up(lora.B) }, up(res));
          assert.ok(relDiff(lg.y.toFloat32(), lw.y.toFloat32()) < tol, `lora ${act} ${wkind} ${M}x${K}x${N}`);
        }
  },
);

test(
  'linearForwardMany on CUDA: q/k/v-like NF4 weights in one launch (1–8 rows) equal one linearForward each, bit for bit',
  { skip },
  () => {
    for (const act of ['f32', 'bf16'] as const)
      for (const [K, M] of [
        [256, 1],
        [96, 1],
        [256, 3],
        [256, 8],
        [256, 9],
      ]) {
        // K = 96 misses the GEMV's conditions (whole 64-value blocks): the linears then run one by one
        const ws = [64, 16, 16].map((N, i) => ({
          weight: nf4To(quantizeNF4(Tensor.from(randnArray(N * K), [N, K]), undefined, { blocksize: 64, doubleQuant: i === 0 }), 'cuda'),
          bias: i === 0 ? up(Tensor.from(randnArray(N))) : null,
        }));
        // M = 9: past the fused kernels' rows, one by one again
        const x = up(Tensor.from(randnArray(M * K), [M, 1, K], { dtype: act }));
        const many = linearForwardMany(x, ws).map((t) => t.toArray());
        const one = ws.map((w) => linearForward(x, w.weight, w.bias).toArray());
        assert.deepEqual(many, one, `${act} K=${K} M=${M}`);
      }
  },
);

test('gateUpSwiglu on CUDA: both NF4 GEMVs and SwiGLU in one launch (1–8 rows) equal the three apart, bit for bit', { skip }, () => {
  for (const act of ['f32', 'bf16'] as const) {
    const [N, K] = [96, 256];
    const nf4 = (dq: boolean) =>
      nf4To(quantizeNF4(Tensor.from(randnArray(N * K), [N, K]), undefined, { blocksize: 64, doubleQuant: dq }), 'cuda');
    const [g, u] = [nf4(true), nf4(false)];
    for (const M of [1, 2, 5, 8]) {
      const x = up(Tensor.from(randnArray(M * K), [M, 1, K], { dtype: act }));
      const h = gateUpSwiglu(x, g, u);
      assert.ok(h, `${act} M=${M}: the fused path applies`);
      assert.deepEqual(h.shape, [M, 1, N]);
      const want = swigluForward(linearForward(x, g), linearForward(x, u));
      assert.deepEqual(h.toArray(), want.toArray(), `${act} M=${M}`);
    }
    assert.equal(gateUpSwiglu(up(Tensor.from(randnArray(9 * K), [9, K], { dtype: act })), g, u), null, 'nine rows: not this path');
  }
});

test(
  'LoRA at decoding on CUDA (xa over many blocks for ≤ 8 rows; at one row through NF4 the adapter in the GEMV epilogue) follows the CPU',
  { skip },
  () => {
    for (const act of ['f32', 'bf16'] as const)
      for (const [M, K, N, r] of [
        [1, 512, 96, 16],
        [1, 256, 40, 40],
        [3, 256, 72, 8],
        [8, 200, 33, 16],
      ]) {
        const w = quantizeNF4(Tensor.from(randnArray(N * K), [N, K]), undefined, { blocksize: 64, doubleQuant: true });
        const lora = { A: Tensor.from(randnArray(r * K, 0.1), [r, K]), B: Tensor.from(randnArray(N * r, 0.1), [N, r]), scale: 2 };
        const x = Tensor.from(randnArray(M * K), [M, K], { dtype: act }),
          bias = Tensor.from(randnArray(N));
        const c = loraLinearForward(x, w, bias, lora),
          g = loraLinearForward(up(x), nf4To(w, 'cuda'), up(bias), { ...lora, A: up(lora.A), B: up(lora.B) });
        const what = `${act} M${M} K${K} N${N} r${r}`;
        close(g.xa, c.xa, `xa ${what}`, act === 'f32' ? 1e-5 : 1e-2);
        close(g.y, c.y, `y ${what}`, act === 'f32' ? 1e-5 : 2e-2);
      }
  },
);

test(
  'NF4 GEMV for a decoding batch on CUDA (2–8 rows of x, W read once; LoRA in the epilogue): each row equals its one-row GEMV bit for bit, and the CPU',
  { skip },
  () => {
    const [N, K] = [72, 512];
    const wq = quantizeNF4(Tensor.from(randnArray(N * K), [N, K]), undefined, { blocksize: 64, doubleQuant: true });
    const w = nf4To(wq, 'cuda');
    const bias = Tensor.from(randnArray(N));
    const lc = { A: Tensor.from(randnArray(8 * K, 0.1), [8, K]), B: Tensor.from(randnArray(N * 8, 0.1), [N, 8]), scale: 2 };
    const lora = { ...lc, A: up(lc.A), B: up(lc.B) };
    const flat = (t: Tensor) => Array.from(t.toFloat32());
    for (const act of ['f32', 'bf16'] as const)
      for (const M of [2, 3, 8]) {
        const x = Tensor.from(randnArray(M * K), [M, K], { dtype: act });
        const rows = Array.from({ length: M }, (_, m) => up(x).view([1, K], m * K));
        const tol = act === 'f32' ? 1e-5 : 2e-2;
        const many = linearForward(up(x), w, up(bias));
        assert.deepEqual(
          flat(many),
          rows.flatMap((r) => flat(linearForward(r, w, up(bias)))),
          `${act} M=${M} linear`,
        );
        close(many, linearForward(x, wq, bias), `${act} M=${M} linear vs the CPU`, tol);
        const lm = loraLinearForward(up(x), w, up(bias), lora).y;
        assert.deepEqual(
          flat(lm),
          rows.flatMap((r) => flat(loraLinearForward(r, w, up(bias), lora).y)),
          `${act} M=${M} LoRA`,
        );
        close(lm, loraLinearForward(x, wq, bias, lc).y, `${act} M=${M} LoRA vs the CPU`, tol);
      }
  },
);

test(
  'decoding GEMVs with LoRA adapters on CUDA (1–8 rows): q/k/v in one launch and gate/up + SwiGLU equal the LoRA linears apart, bit for bit',
  { skip },
  () => {
    const K = 256;
    const nf4 = (N: number, dq: boolean) =>
      nf4To(quantizeNF4(Tensor.from(randnArray(N * K), [N, K]), undefined, { blocksize: 64, doubleQuant: dq }), 'cuda');
    const adapter = (N: number, r: number) => ({
      A: up(Tensor.from(randnArray(r * K, 0.1), [r, K])),
      B: up(Tensor.from(randnArray(N * r, 0.1), [N, r])),
      scale: 1.5,
    });
    const apart = (x: Tensor, l: { weight: Weight; bias: Tensor | null; lora: ReturnType<typeof adapter> | null }) =>
      l.lora ? loraLinearForward(x, l.weight, l.bias, l.lora).y : linearForward(x, l.weight, l.bias);
    for (const [act, M] of [
      ['f32', 1],
      ['bf16', 1],
      ['f32', 4],
      ['bf16', 7],
    ] as const) {
      const x = up(Tensor.from(randnArray(M * K), [M, 1, K], { dtype: act }));
      const ws = [64, 16, 16].map((N, i) => ({
        weight: nf4(N, i === 0),
        bias: i === 0 ? up(Tensor.from(randnArray(N))) : null,
        lora: i === 1 ? null : adapter(N, i === 0 ? 16 : 8),
      }));
      assert.deepEqual(
        linearForwardMany(x, ws).map((t) => t.toArray()),
        ws.map((w) => apart(x, w).toArray()),
        `${act} M=${M}: q/k/v with adapters on q and v`,
      );
      const [g, u] = [nf4(96, true), nf4(96, false)],
        [lg, lu] = [adapter(96, 16), adapter(96, 16)];
      const h = gateUpSwiglu(x, g, u, lg, lu);
      assert.ok(h, `${act} M=${M}: the fused path applies with adapters`);
      const want = swigluForward(apart(x, { weight: g, bias: null, lora: lg }), apart(x, { weight: u, bias: null, lora: lu }));
      assert.deepEqual(h.toArray(), want.toArray(), `${act} M=${M}: gate/up + SwiGLU with adapters`);
      assert.equal(gateUpSwiglu(x, g, u, { ...lg, dropout: 0.1 }, lu), null, 'an adapter with dropout: not this path');
    }
  },
);

test('cache_write on CUDA appends k and v where a device position says, like the CPU (f32, bf16; past the cache skipped)', { skip }, () => {
  for (const dtype of ['f32', 'bf16'] as const) {
    const mk = (n: number, shape: number[]) => Tensor.from(randnArray(n), shape, { dtype });
    const k = mk(60, [2, 3, 2, 5]),
      v = mk(60, [2, 3, 2, 5]),
      kc = mk(160, [2, 8, 2, 5]),
      vc = mk(160, [2, 8, 2, 5]);
    for (const at of [0, 4]) {
      const [wk, wv] = [kc.clone(), vc.clone()],
        [gk, gv] = [up(kc), up(vc)];
      cacheWrite(k, v, Tensor.from(BigInt64Array.of(BigInt(at))), wk, wv);
      cacheWrite(up(k), up(v), up(Tensor.from(BigInt64Array.of(BigInt(at)))), gk, gv);
      assert.deepEqual(gk.toArray(), wk.toArray(), `${dtype} k at ${at}`);
      assert.deepEqual(gv.toArray(), wv.toArray(), `${dtype} v at ${at}`);
    }
    // at 6 with 3 new positions: position 8 lies past the cache and is skipped on CUDA
    const [gk, gv] = [up(kc), up(vc)];
    cacheWrite(up(k), up(v), up(Tensor.from(BigInt64Array.of(6n))), gk, gv);
    for (const [got, x, c] of [
      [gk, k, kc],
      [gv, v, vc],
    ]) {
      const g = got.toFloat32(),
        xf = x.toFloat32(),
        cf = c.toFloat32();
      for (let b = 0; b < 2; b++)
        for (let t = 0; t < 8; t++)
          for (let e = 0; e < 10; e++) {
            const want = t >= 6 ? xf[(b * 3 + t - 6) * 10 + e] : cf[(b * 8 + t) * 10 + e];
            assert.equal(g[(b * 8 + t) * 10 + e], want, `${dtype} b${b} t${t}`);
          }
    }
  }
});

test("argmax_rows on CUDA picks the CPU's first maximum (f32, bf16; ties, NaN; a 32k vocabulary)", { skip }, () => {
  for (const [rows, V] of [
    [3, 7],
    [5, 32000],
  ])
    for (const dtype of ['f32', 'bf16'] as const) {
      const a = randnArray(rows * V);
      a[2] = a[V - 1] = 40; // row 0: a tie
      a[V] = NaN; // row 1: NaN in column 0
      a[2 * V + 1] = NaN; // row 2: NaN passed over
      const x = Tensor.from(a, [rows, V], { dtype });
      assert.deepEqual(argmaxRows(up(x)).toArray(), argmaxRows(x).toArray(), `${dtype} [${rows},${V}]`);
    }
});

test('StepGraph on CUDA: a recorded step replays on new inputs like the op calls; a host copy inside is a clear error', { skip }, () => {
  const w = up(Tensor.from(randnArray(6 * 4), [6, 4])),
    x = Tensor.empty([3, 4], 'f32', 'cuda'),
    ids = Tensor.empty([3], 'i64', 'cuda'),
    table = up(Tensor.from(randnArray(10 * 4), [10, 4]));
  const step = () => {
    const e = embeddingForward(ids, table);
    const y = linearForward(x, w);
    const s = addForward(y.view([3, 6]), y.view([3, 6]));
    e.dispose();
    y.dispose();
    return [s];
  };
  const g = StepGraph.record('cuda', step);
  assert.ok(g.nodes >= 3, `recorded ${g.nodes} nodes`);
  for (let r = 0; r < 3; r++) {
    const xa = randnArray(12);
    x.write(xa);
    ids.write(BigInt64Array.from([r, 9, 2 * r], BigInt));
    g.replay();
    const [want] = step();
    assert.ok(relDiff(g.outputs[0].toFloat32(), want.toFloat32()) < 1e-6, `replay ${r}`);
    want.dispose();
  }
  g.dispose();
  // a step that uploads from the host cannot be recorded: the op names it, nothing stays recorded
  throwsWith(() => StepGraph.record('cuda', () => [Tensor.from(randnArray(4), [4], { device: 'cuda' })]), Error, /CUDA graph/);
  const after = linearForward(x, w); // the stream works on
  assert.equal(after.toFloat32().length, 18);
  for (const t of [after, w, x, ids, table]) t.dispose();
});

const fixtures = sharedPath('fixtures/hf');
const fixSkip = skip || (fixtures ? false : skipMessage('fixtures/hf'));
const fx = (...p: string[]) => path.join(fixtures ?? '', ...p);
for (const arch of ['llama', 'mistral', 'qwen2', 'phi', 'gpt_neox', 't5']) {
  test(`${arch} on CUDA: logits, lora_cls loss and every gradient, greedy generation equal transformers`, { skip: fixSkip }, () => {
    const f = openSafetensors(fx(arch, 'lm.safetensors'));
    const m = loadModel(fx(arch, 'model'), { device: 'cuda' });
    assert.equal(m.device, 'cuda');
    const batch = {
      inputIds: readTensor(f, 'input_ids'),
      attentionMask: readTensor(f, 'attention_mask'),
      ...(arch === 't5' ? { decoderInputIds: readTensor(f, 'decoder_input_ids') } : {}),
    };
    const { logits } = m.forward(batch);
    assert.equal(logits.device, 'cuda');
    const ref = readTensor(f, 'logits').toFloat32();
    if (arch === 't5') {
      assert.ok(relDiff(logits.toFloat32(), ref) < 1e-4, `${arch} logits`);
    } else {
      // compare non-pad positions
      const mask = batch.attentionMask.toArray() as BigInt64Array,
        lg = logits.toFloat32(),
        V = ref.length / mask.length;
      let md = 0,
        mr = 0;
      mask.forEach((v, p) => {
        if (v)
          for (let i = p * V; i < (p + 1) * V; i++) {
            md = Math.max(md, Math.abs(lg[i] - ref[i]));
            mr = Math.max(mr, Math.abs(ref[i]));
          }
      });
      assert.ok(md / mr < 1e-4, `${arch} logits ${md / mr}`);
    }
    const g = openSafetensors(fx(arch, 'gen.safetensors'));
    const want = readTensor(g, 'sequences');
    const n = arch === 't5' ? want.shape[1] - 1 : want.shape[1] - readTensor(g, 'input_ids').shape[1];
    const seqs = m.generate(
      { inputIds: readTensor(g, 'input_ids'), attentionMask: readTensor(g, 'attention_mask') },
      { maxNewTokens: n, eosTokenId: null },
    );
    assert.deepEqual(seqs.flat(), Array.from(want.toArray() as BigInt64Array, Number), `${arch} greedy sequences`);
    m.dispose();
    const c = loadModel(fx(arch, 'model_cls'), { device: 'cuda' });
    c.loadAdapter(fx(arch, 'lora_cls'));
    const gr = openSafetensors(fx(arch, 'lora_cls', 'grads.safetensors'));
    c.zeroGrad();
    const r = c.forward(
      {
        inputIds: readTensor(gr, 'input.input_ids'),
        attentionMask: readTensor(gr, 'input.attention_mask'),
        labels: readTensor(gr, 'input.labels').to('cuda'),
      },
      { train: true },
    );
    const loss = readTensor(gr, 'losses').toFloat32()[0];
    assert.ok(Math.abs(r.loss! - loss) / loss < 1e-4, `${arch} loss ${r.loss} vs ${loss}`);
    c.backward();
    for (const p of c.trainableParameters()) {
      assert.equal(p.grad.device, 'cuda');
      const d = relDiff(p.grad.toFloat32(), readTensor(gr, `grad.${p.name}`).toFloat32());
      assert.ok(d < 1e-3, `${arch} grad ${p.name}: ${d}`);
    }
    c.dispose();
  });
}

test(
  "decoding on CUDA as one recorded CUDA graph gives the op calls' tokens and logits (f32, bf16, NF4; mistral's window in the mask)",
  { skip: fixSkip },
  () => {
    for (const arch of ['llama', 'mistral', 'qwen2', 'phi', 'gpt_neox'])
      for (const [activations, quantize] of [
        ['f32', null],
        ['bf16', null],
        ['bf16', 'nf4'],
      ] as const) {
        const g = openSafetensors(fx(arch, 'gen.safetensors'));
        const batch = { inputIds: readTensor(g, 'input_ids'), attentionMask: readTensor(g, 'attention_mask') };
        const m = loadModel(fx(arch, 'model'), { device: 'cuda', activations, quantize });
        const run = (graph: boolean) => {
          const rows: Float32Array[] = [];
          const pick = (lg: Float32Array) => (rows.push(lg.slice()), lg.indexOf(Math.max(...lg)));
          return { seqs: m.generate(batch, { maxNewTokens: 6, eosTokenId: null, graph, pick }), rows };
        };
        const eager = run(false),
          graph = run(true);
        assert.deepEqual(graph.seqs, eager.seqs, `${arch} ${activations} ${quantize} tokens`);
        // and picking on the device (no pick given): the same tokens
        assert.deepEqual(m.generate(batch, { maxNewTokens: 6, eosTokenId: null, graph: true }), eager.seqs, `${arch} device pick`);
        graph.rows.forEach((r, i) => assert.ok(relDiff(r, eager.rows[i]) < 1e-5, `${arch} ${activations} ${quantize} step row ${i}`));
        m.dispose();
      }
  },
);

test(
  'a kept CUDA graph on CUDA: reused across generate calls, recorded again for a new adapter, reading in-place updates',
  { skip: fixSkip },
  () => {
    const g = openSafetensors(fx('llama', 'gen.safetensors'));
    const batch = { inputIds: readTensor(g, 'input_ids'), attentionMask: readTensor(g, 'attention_mask') };
    const m = loadModel(fx('llama', 'model'), { device: 'cuda', activations: 'bf16', quantize: 'nf4' });
    const gen = (graph: boolean, n = 6) => m.generate(batch, { maxNewTokens: n, eosTokenId: null, graph });
    const at = StepGraph.recordings;
    assert.deepEqual(gen(true), gen(false), 'first call');
    assert.deepEqual(gen(true, 4), gen(false, 4), 'second call, the kept graph');
    assert.equal(StepGraph.recordings - at, 1, 'one recording');
    m.addLora({ r: 4, alpha: 8 });
    for (const lin of m.linears()) lin.lora!.B.write(randnArray(lin.lora!.B.numel, 0.5));
    assert.deepEqual(gen(true), gen(false), 'with an adapter (recorded again)');
    for (const lin of m.linears()) lin.lora!.A.write(randnArray(lin.lora!.A.numel, 0.5));
    assert.deepEqual(gen(true), gen(false), 'after an in-place update (the kept graph reads it)');
    assert.equal(StepGraph.recordings - at, 2);
    m.dispose();
  },
);

test(
  'bf16 activations and activation checkpointing on CUDA: lora_lm loss and gradients follow the same on the CPU and transformers',
  { skip: fixSkip },
  () => {
    for (const arch of ['llama', 'gpt_neox']) {
      const g = openSafetensors(fx(arch, 'lora_lm', 'grads.safetensors'));
      const batch = {
        inputIds: readTensor(g, 'input.input_ids'),
        attentionMask: readTensor(g, 'input.attention_mask'),
        labels: readTensor(g, 'input.labels'),
      };
      const run = (device: 'cpu' | 'cuda') => {
        const m = loadModel(fx(arch, 'model'), { device, activations: 'bf16' });
        m.loadAdapter(fx(arch, 'lora_lm'));
        m.gradientCheckpointing = true;
        m.zeroGrad();
        const { loss } = m.forward(batch, { train: true });
        m.backward();
        const grads = Object.fromEntries(m.trainableParameters().map((p) => [p.name, p.grad.toFloat32()]));
        m.dispose();
        return { loss: loss!, grads };
      };
      const cpu = run('cpu'),
        gpu = run('cuda');
      assert.ok(Math.abs(gpu.loss - cpu.loss) / cpu.loss < 1e-3, `${arch} loss ${gpu.loss} vs CPU ${cpu.loss}`);
      for (const [name, gc] of Object.entries(cpu.grads)) {
        assert.ok(relDiff(gpu.grads[name], gc) < 3e-2, `${arch} ${name} vs CPU`);
        assert.ok(relDiff(gpu.grads[name], readTensor(g, `grad.${name}`).toFloat32()) < 8e-2, `${arch} ${name} vs transformers`);
      }
    }
  },
);

test(
  'training on CUDA (runSetting, NF4 + LoRA, checkpoints, evaluation) follows the same run on the CPU',
  { skip: fixSkip, timeout: 180_000 },
  async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-cuda-train-'));
    try {
      const prepared = await prepareSynthetic(root);
      const run = (device: 'cpu' | 'cuda') =>
        runSetting({
          prepared,
          model: fx('llama', 'model'),
          setting: 'CLS-P',
          out: path.join(root, device),
          tokenizer: new ByteTokenizer(),
          quantize: 'nf4',
          device,
          maxLength: 512,
          lora: { r: 4, alpha: 8, dropout: 0.1 },
          train: { lr: 5e-3, batchSize: 4, gradAccum: 2, epochs: 1, maxSteps: 4, evalBatchSize: 16, seed: 5 },
          limit: { train: 16, val: 8, test: 8 },
        });
      const cpu = await run('cpu'),
        gpu = await run('cuda');
      const hist = (d: string) =>
        (JSON.parse(fs.readFileSync(path.join(root, d, 'checkpoint', 'state.json'), 'utf8')).history as { loss: number }[]).map(
          (h) => h.loss,
        );
      const [hc, hg] = [hist('cpu'), hist('cuda')];
      assert.equal(hg.length, 4);
      hg.forEach((l, i) => assert.ok(Math.abs(l - hc[i]) / hc[i] < 1e-3, `step ${i} loss ${l} vs CPU ${hc[i]}`));
      assert.equal(gpu.rows, cpu.rows);
      assert.ok(fs.existsSync(path.join(root, 'cuda', 'best', 'adapter_model.safetensors')));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  },
);
