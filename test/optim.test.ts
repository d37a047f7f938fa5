// AdamW against a line-by-line JS transcription of torch.optim.AdamW (single-tensor, float32).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, Tensor, ArgumentError, ShapeError, DTypeError } from '../lib/index.js';
import { addon } from '../lib/native/addon.js';
import { randnArray, relDiff, randInt, throwsWith } from './helpers.js';

const f = Math.fround;

/** torch/optim/adamw.py _single_tensor_adamw, float32 tensors and Python-float scalars. */
function torchAdamW(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  step: number,
  lr: number,
  b1: number,
  b2: number,
  eps: number,
  wd: number,
) {
  const decay = f(1 - lr * wd),
    w1 = f(1 - b1),
    fb2 = f(b2),
    c2 = f(1 - b2);
  const bc1 = 1 - b1 ** step,
    bc2 = 1 - b2 ** step;
  const negStep = f(-(lr / bc1)),
    bc2s = f(Math.sqrt(bc2)),
    e = f(eps);
  for (let i = 0; i < p.length; i++) {
    p[i] = f(p[i] * decay); // param.mul_(1 - lr * wd)
    m[i] = f(m[i] + f(w1 * f(g[i] - m[i]))); // exp_avg.lerp_(grad, 1 - beta1)
    v[i] = f(f(v[i] * fb2) + f(f(c2 * g[i]) * g[i])); // exp_avg_sq.mul_(b2).addcmul_(g, g, 1 - b2)
    const denom = f(f(f(Math.sqrt(v[i])) / bc2s) + e); // (exp_avg_sq.sqrt() / bc2_sqrt).add_(eps)
    p[i] = f(p[i] + f(f(negStep * m[i]) / denom)); // param.addcdiv_(exp_avg, denom, -step_size)
  }
}

test('AdamW equals torch.optim.AdamW bit for bit over several steps and tensors', () => {
  const sizes = [1, 7, randInt(100, 5000), 70000];
  const lr = 1e-2,
    b1 = 0.9,
    b2 = 0.999,
    eps = 1e-8,
    wd = 0.01;
  const p0 = sizes.map((n) => randnArray(n));
  const params = p0.map((a) => Tensor.from(a));
  const opt = new AdamW(params, { lr, betas: [b1, b2], eps, weightDecay: wd });
  const ref = p0.map((a) => ({ p: a.slice(), m: new Float32Array(a.length), v: new Float32Array(a.length) }));
  for (let step = 1; step <= 4; step++) {
    const grads = sizes.map((n) => randnArray(n, 0.1));
    const r = opt.stepWith(grads.map((g) => Tensor.from(g)));
    assert.equal(r.skipped, false);
    let sq = 0;
    grads.forEach((g, i) => {
      for (const x of g) sq += x * x;
      torchAdamW(ref[i].p, g, ref[i].m, ref[i].v, step, lr, b1, b2, eps, wd);
    });
    assert.ok(Math.abs(r.gradNorm - Math.sqrt(sq)) < 1e-9 * Math.sqrt(sq));
    params.forEach((t, i) => assert.deepEqual(t.toFloat32(), ref[i].p, `tensor ${i} step ${step}`));
  }
  assert.equal(opt.step, 4);
});

test('AdamW clips the global norm and unscales fp16 loss-scaled gradients', () => {
  const n = 300,
    p0 = randnArray(n),
    g = randnArray(n);
  const norm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
  // clipping to half the norm equals stepping with the clipped gradient
  const a = Tensor.from(p0),
    b = Tensor.from(p0);
  const clip = new AdamW([a], { lr: 1e-2, maxGradNorm: norm / 2 });
  const r = clip.stepWith([Tensor.from(g)]);
  assert.ok(Math.abs(r.gradNorm - norm) < 1e-6 * norm, 'reports the pre-clip norm');
  const coef = norm / 2 / (norm + 1e-6);
  new AdamW([b], { lr: 1e-2 }).stepWith([Tensor.from(g.map((x) => x * coef))]);
  assert.ok(relDiff(a.toFloat32(), b.toFloat32()) < 1e-6);
  // gradScale 1024 on grads ×1024 equals the plain step
  const c = Tensor.from(p0),
    d = Tensor.from(p0);
  new AdamW([c], { lr: 1e-2, gradScale: 1024 }).stepWith([Tensor.from(g.map((x) => x * 1024))]);
  new AdamW([d], { lr: 1e-2 }).stepWith([Tensor.from(g)]);
  assert.deepEqual(c.toFloat32(), d.toFloat32());
  // a non-finite gradient skips the step and leaves everything untouched
  const e = Tensor.from(p0);
  const opt = new AdamW([e], { lr: 1e-2, gradScale: 65536 });
  const bad = g.slice();
  bad[5] = Infinity;
  const s = opt.stepWith([Tensor.from(bad)]);
  assert.equal(s.skipped, true);
  assert.equal(opt.step, 0);
  assert.deepEqual(e.toFloat32(), p0);
  // skipNonFinite: false is torch's AdamW: the step happens and the bad element becomes NaN; a finite
  // step is the same as with the check
  const f = Tensor.from(p0),
    h = Tensor.from(p0),
    fin = Tensor.from(p0);
  const loose = new AdamW([f], { lr: 1e-2, skipNonFinite: false });
  const rl = loose.stepWith([Tensor.from(bad)]);
  assert.equal(rl.skipped, false);
  assert.equal(loose.step, 1);
  const fv = f.toFloat32();
  assert.ok(Number.isNaN(fv[5]) && Number.isFinite(fv[4]), 'inf gradient → NaN param (m/v of inf)');
  new AdamW([h], { lr: 1e-2, skipNonFinite: false }).stepWith([Tensor.from(g)]);
  new AdamW([fin], { lr: 1e-2 }).stepWith([Tensor.from(g)]);
  assert.deepEqual(h.toFloat32(), fin.toFloat32());
});

test('AdamW keeps f32 master weights for bf16 and f16 parameters', () => {
  for (const dt of ['bf16', 'f16'] as const) {
    const n = 513,
      p0 = randnArray(n);
    const p = Tensor.from(p0, [n], { dtype: dt });
    const start = p.toFloat32();
    const opt = new AdamW([p], { lr: 1e-3, weightDecay: 0 });
    const ref = { p: start.slice(), m: new Float32Array(n), v: new Float32Array(n) };
    for (let step = 1; step <= 3; step++) {
      const g = randnArray(n);
      opt.stepWith([Tensor.from(g)]);
      torchAdamW(ref.p, g, ref.m, ref.v, step, 1e-3, 0.9, 0.999, 1e-8, 0);
    }
    assert.deepEqual(opt.state().master[0]!.toFloat32(), ref.p, `${dt} master`);
    const rounded = Tensor.from(ref.p, [n], { dtype: dt }).toArray();
    assert.deepEqual(p.toArray(), rounded, `${dt} param = round(master)`);
  }
});

test('adamw_step rejects mismatched lists and shapes', () => {
  const p = Tensor.zeros([4]);
  const opt = new AdamW([p], { lr: 1e-3 });
  throwsWith(() => opt.stepWith([]), ArgumentError, /1 parameters/);
  throwsWith(() => opt.stepWith([Tensor.zeros([5])]), ShapeError, /adamw_step/, /f32\[5\]/, /f32\[4\]/);
  throwsWith(() => opt.stepWith([Tensor.zeros([4], 'bf16')]), DTypeError, /grad/);
  throwsWith(
    () =>
      addon.adamw_step([{ param: Tensor.zeros([4], 'bf16').handle, master: null, grad: p.handle, m: p.handle, v: p.handle }], {
        lr: 1,
        step: 1,
      }),
    ArgumentError,
    /master/,
  );
  throwsWith(() => addon.adamw_step([], { lr: 1, step: 0 }), ArgumentError, /step/);
});
