// Elementwise activations, scale and add.
import {
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
} from '../../lib/ops/index.js';
import { Draw, f32, host, type OpCase } from './case.js';

const d = new Draw(101);
const erf = (x: number) => {
  // Abramowitz–Stegun 7.1.26 is too coarse: a series / continued fraction in f64
  const t = Math.abs(x);
  if (t < 3) {
    let s = 0,
      term = t;
    for (let n = 0; n < 60; n++) {
      s += term / (2 * n + 1);
      term *= (-t * t) / (n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * s;
  }
  return Math.sign(x) * (1 - (Math.exp(-t * t) / (t * Math.sqrt(Math.PI))) * (1 - 1 / (2 * t * t) + 3 / (4 * t ** 4)));
};
const geluErf = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const silu = (x: number) => x / (1 + Math.exp(-x));
const map = (a: Float32Array, f: (x: number, i: number) => number) => Float64Array.from(a, f);
const two = (n: number) => () => ({ gate: host(d.randn(n), [n]), up: host(d.randn(n), [n]) });
const one = (n: number) => () => ({ x: host(d.randn(n), [n]) });

export const cases: OpCase[] = [
  ...[7, 4099].map((n): OpCase => ({
    family: 'activation',
    op: 'swiglu',
    name: `n=${n}`,
    inputs: two(n),
    dtypes: ['bf16', 'f16'],
    forward: (t) => ({ y: swigluForward(t.gate, t.up) }),
    reference: (x) => ({ y: map(f32(x.gate), (g, i) => silu(g) * f32(x.up)[i]) }),
    backward: (t, _o, dy) => {
      const r = swigluBackward(dy, t.gate, t.up);
      return { gate: r.dgate, up: r.dup };
    },
    grad: { output: 'y', wrt: ['gate', 'up'] },
  })),
  ...(['none', 'tanh'] as const).map((a): OpCase => ({
    family: 'activation',
    op: 'gelu',
    name: `n=1001, approximate ${a}`,
    inputs: one(1001),
    dtypes: ['bf16'],
    forward: (t) => ({ y: geluForward(t.x, a) }),
    reference: (x) => ({ y: map(f32(x.x), a === 'tanh' ? geluTanh : geluErf) }),
    backward: (t, _o, dy) => ({ x: geluBackward(dy, t.x, a) }),
    grad: { output: 'y', wrt: ['x'] },
  })),
  {
    family: 'activation',
    op: 'geglu',
    name: 'n=515',
    inputs: two(515),
    dtypes: ['bf16'],
    forward: (t) => ({ y: gegluForward(t.gate, t.up) }),
    reference: (x) => ({ y: map(f32(x.gate), (g, i) => geluTanh(g) * f32(x.up)[i]) }),
    backward: (t, _o, dy) => {
      const r = gegluBackward(dy, t.gate, t.up);
      return { gate: r.dgate, up: r.dup };
    },
    grad: { output: 'y', wrt: ['gate', 'up'] },
  },
  {
    family: 'activation',
    op: 'relu',
    name: 'n=333',
    inputs: one(333),
    forward: (t) => ({ y: reluForward(t.x) }),
    reference: (x) => ({ y: map(f32(x.x), (v) => Math.max(v, 0)) }),
    backward: (t, _o, dy) => ({ x: reluBackward(dy, t.x) }),
    grad: { output: 'y', wrt: ['x'] },
  },
  {
    family: 'activation',
    op: 'tanh',
    name: 'n=333',
    inputs: one(333),
    forward: (t) => ({ y: tanhForward(t.x) }),
    reference: (x) => ({ y: map(f32(x.x), Math.tanh) }),
    backward: (_t, o, dy) => ({ x: tanhBackward(dy, o.y) }),
    grad: { output: 'y', wrt: ['x'] },
  },
  {
    family: 'activation',
    op: 'scale',
    name: 'n=77, alpha 0.37',
    inputs: one(77),
    forward: (t) => ({ y: scaleForward(t.x, 0.37) }),
    reference: (x) => ({ y: map(f32(x.x), (v) => v * 0.37) }),
  },
  {
    family: 'activation',
    op: 'add',
    name: 'n=77',
    inputs: () => ({ a: host(d.randn(77), [77]), b: host(d.randn(77), [77]) }),
    forward: (t) => ({ y: addForward(t.a, t.b) }),
    reference: (x) => ({ y: map(f32(x.a), (v, i) => v + f32(x.b)[i]) }),
  },
];
