// SwiGLU, GELU (erf / tanh), residual add, and dtype conversion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ShapeError, ArgumentError } from '../lib/index.js';
import {
  swigluForward,
  swigluBackward,
  geluForward,
  geluBackward,
  addForward,
  convert,
  gegluForward,
  gegluBackward,
  reluForward,
  reluBackward,
  tanhForward,
  tanhBackward,
  scaleForward,
} from '../lib/ops/index.js';
import { addon } from '../lib/native/addon.js';
import { randnArray, relDiff, finiteDiffCheck, dot64, throwsWith, randInt } from './helpers.js';

// erf to ~1e-15 (Abramowitz-Stegun 7.1.26 is too coarse for a float64 reference): series / continued fraction
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = ax,
      term = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-17) break;
    }
    return ((Math.sign(x) * 2) / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz)
  let f = ax,
    c = ax,
    d = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = 1 / d;
    c = ax + an / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}
const geluErf = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const silu = (x: number) => x / (1 + Math.exp(-x));

test('swiglu forward/backward', () => {
  const n = randInt(1, 5000);
  const gate = randnArray(n, 2),
    up = randnArray(n),
    g = randnArray(n);
  const y = swigluForward(Tensor.from(gate), Tensor.from(up));
  const ref = (gg: Float32Array, uu: Float32Array) => Float64Array.from(gg, (v, i) => silu(v) * uu[i]);
  assert.ok(relDiff(y.toFloat32(), ref(gate, up)) < 1e-6);
  const { dgate, dup } = swigluBackward(Tensor.from(g), Tensor.from(gate), Tensor.from(up));
  assert.ok(finiteDiffCheck(gate, dgate.toFloat32(), (x) => dot64(ref(x, up), g), 16, 1e-4) < 1e-4);
  assert.ok(finiteDiffCheck(up, dup.toFloat32(), (x) => dot64(ref(gate, x), g), 16, 1e-4) < 1e-4);
});

test('gelu (erf and tanh) forward/backward', () => {
  for (const [approx, fn] of [
    ['none', geluErf],
    ['tanh', geluTanh],
  ] as const) {
    const n = randInt(100, 4000);
    const x = randnArray(n, 3),
      g = randnArray(n);
    const y = geluForward(Tensor.from(x), approx).toFloat32();
    const ref = (xx: Float32Array) => Float64Array.from(xx, fn);
    assert.ok(relDiff(y, ref(x)) < 1e-6, approx);
    const dx = geluBackward(Tensor.from(g), Tensor.from(x), approx).toFloat32();
    assert.ok(finiteDiffCheck(x, dx, (xx) => dot64(ref(xx), g), 16, 1e-4) < 1e-4, `${approx} dx`);
  }
  throwsWith(() => geluForward(Tensor.zeros([3]), 'fast' as 'tanh'), ArgumentError, /gelu_forward/, /approximate/);
});

test('add (residual) and its size checks', () => {
  const a = randnArray(77),
    b = randnArray(77);
  assert.deepEqual(
    addForward(Tensor.from(a), Tensor.from(b)).toFloat32(),
    Float32Array.from(a, (v, i) => v + b[i]),
  );
  throwsWith(() => addForward(Tensor.zeros([3]), Tensor.zeros([4])), ShapeError, /add_forward/, /f32\[4\]/);
});

/** Round to nearest even via float64 arithmetic, an independent transcription of IEEE rounding. */
function toBf16Bits(x: number): number {
  const f = new Float32Array([x]),
    u = new Uint32Array(f.buffer)[0];
  if (Number.isNaN(x)) return 0x7fc0; // torch's canonical bf16 NaN
  const lower = u & 0xffff,
    upper = u >>> 16;
  if (lower > 0x8000 || (lower === 0x8000 && upper & 1)) return (upper + 1) & 0xffff;
  return upper;
}

test('f32 <-> bf16 <-> f16 conversion rounds to nearest even', () => {
  const x = randnArray(4096, 100);
  x[0] = 65504;
  x[1] = 65520;
  x[2] = 1e-8;
  x[3] = -0;
  x[4] = 6.1e-5;
  x[5] = 5.96e-8;
  x[6] = Infinity;
  x[7] = NaN;
  x[8] = 1 + 2 ** -8;
  x[9] = 1 + 3 * 2 ** -8; // bf16 ties: to even
  // f16 subnormal edges: 2^-25 ties to 0, just above goes to 2^-24, 1.5 and 2.5 units tie to even
  x[10] = 2 ** -25;
  x[11] = 2 ** -25 * 1.0001;
  x[12] = 1.5 * 2 ** -24;
  x[13] = 2.5 * 2 ** -24;
  x[14] = -3 * 2 ** -26;
  x[15] = 2 ** -14 * (1 - 2 ** -12);
  x[16] = 65519.99;
  x[17] = -NaN;
  const bf = convert(Tensor.from(x), 'bf16').toArray() as Uint16Array;
  for (let i = 0; i < x.length; i++) assert.equal(bf[i], toBf16Bits(x[i]), `bf16 of ${x[i]}`);
  const h = convert(Tensor.from(x), 'f16');
  const back = convert(h, 'f32').toFloat32();
  // f16 via a reference: nearest representable f16 value, ties to even, overflow to inf
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (Number.isNaN(v)) {
      assert.ok(Number.isNaN(back[i]));
      continue;
    }
    const a = Math.abs(v);
    let ref: number;
    if (a >= 65520) ref = Infinity;
    else {
      const e = Math.max(Math.floor(Math.log2(a || 1)), -14),
        ulp = 2 ** (e - 10);
      const q = a / ulp,
        fl = Math.floor(q),
        rem = q - fl;
      ref = (rem > 0.5 || (rem === 0.5 && fl % 2 === 1) ? fl + 1 : fl) * ulp;
    }
    assert.equal(back[i], Math.sign(v) * ref || (Object.is(v, -0) ? -0 : ref * Math.sign(v)), `f16 of ${v}`);
  }
  // bf16 -> f16 goes through f32 exactly
  const bfT = Tensor.from(x.subarray(0, 100), [100], { dtype: 'bf16' });
  assert.deepEqual(convert(convert(bfT, 'f16'), 'f32').toFloat32(), convert(convert(bfT, 'f32'), 'f16').toFloat32());
  throwsWith(() => addon.convert(Tensor.zeros([3]).handle, Tensor.zeros([4], 'bf16').handle), ShapeError, /convert/);
});

test('GeGLU (T5 gated-gelu), ReLU and tanh against float64 references and finite differences', () => {
  const n = randInt(50, 300);
  const a = randnArray(n),
    b = randnArray(n),
    g = randnArray(n);
  const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  const at = Tensor.from(a, [n]),
    bt = Tensor.from(b, [n]),
    gt = Tensor.from(g, [n]);
  const geglu = (x: Float32Array, y: Float32Array) => Float64Array.from(x, (v, i) => gelu(v) * y[i]);
  assert.ok(relDiff(gegluForward(at, bt).toFloat32(), geglu(a, b)) < 1e-6);
  const { dgate, dup } = gegluBackward(gt, at, bt);
  assert.ok(finiteDiffCheck(a, dgate.toFloat32(), (x) => dot64(geglu(x, b), g), 10, 1e-3) < 2e-3, 'dgate');
  assert.ok(finiteDiffCheck(b, dup.toFloat32(), (x) => dot64(geglu(a, x), g), 10, 1e-3) < 2e-3, 'dup');
  assert.deepEqual(
    Array.from(reluForward(at).toFloat32()),
    Array.from(a, (v) => Math.max(v, 0)),
  );
  assert.deepEqual(
    Array.from(reluBackward(gt, at).toFloat32()),
    Array.from(a, (v, i) => (v > 0 ? g[i] : 0)),
  );
  const y = tanhForward(at);
  assert.ok(relDiff(y.toFloat32(), Float64Array.from(a, Math.tanh)) < 1e-6);
  assert.ok(finiteDiffCheck(a, tanhBackward(gt, y).toFloat32(), (x) => dot64(Float64Array.from(x, Math.tanh), g), 10, 1e-3) < 2e-3, 'tanh');
  assert.deepEqual(
    Array.from(scaleForward(at, 0.125).toFloat32()),
    Array.from(a, (v) => Math.fround(v * 0.125)),
  );
  throwsWith(() => gegluForward(at, Tensor.zeros([n + 1])), ShapeError, /geglu_forward/, /up f32\[/);
  throwsWith(() => tanhBackward(gt, Tensor.zeros([n + 1])), ShapeError, /tanh_backward/);
});
