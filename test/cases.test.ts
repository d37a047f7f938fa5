// The op case table (test/cases/): every case on the CPU against its float64 reference and its
// gradients against finite differences of that reference; then every case on each other available
// backend (CUDA) against the CPU, in f32 and in the case's 16-bit activation dtypes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, info, type Device } from '../lib/ops/index.js';
import { ALL_CASES, FAMILIES } from './cases/index.js';
import { toTensors, disposeAll, relMax, values, type OpCase, type Inputs, type Tensors } from './cases/case.js';
import { finiteDiffCheck, dot64 } from './helpers.js';

const cuda = info().cuda;
const BACKENDS: { device: Device; skip: string | false }[] = [
  { device: 'cuda', skip: cuda.usable ? false : `no usable CUDA device: ${cuda.reason}` },
];

/** forward (+ backward with a seeded dy) on one device: every output and gradient as numbers */
function runOn(c: OpCase, x: Inputs, device: Device, dtype: 'f32' | 'bf16' | 'f16' = 'f32', g?: Float32Array) {
  const t = toTensors(x, device, dtype, c.keepF32);
  const out = c.forward(t);
  const res: Record<string, ArrayLike<number>> = {};
  for (const [k, v] of Object.entries(out)) res[`out.${k}`] = values(v);
  let grads: Tensors = {};
  if (c.backward && c.grad && g) {
    const o = out[c.grad.output];
    const dy = Tensor.from(g, o.shape, { dtype: o.dtype === 'f32' ? 'f32' : o.dtype });
    const dyd = device === 'cpu' ? dy : dy.moveTo(device);
    grads = c.backward(t, out, dyd);
    for (const [k, v] of Object.entries(grads)) res[`grad.${k}`] = values(v);
    dyd.dispose();
  }
  disposeAll(t, out, grads);
  return res;
}

const seeded = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + 1) * 0.5);

test(`the case table covers every op family (${FAMILIES.join(', ')}) with ${ALL_CASES.length} cases`, () => {
  for (const f of ['activation', 'norm', 'rope', 'attention', 'embedding', 'loss', 'copy', 'linear', 'nf4', 'optim'])
    assert.ok(FAMILIES.includes(f), f);
});

for (const c of ALL_CASES) {
  test(`${c.family}/${c.op} ${c.name}: CPU against the float64 reference${c.grad ? ' and finite differences' : ''}`, () => {
    const x = c.inputs();
    const outs = runOn(c, x, 'cpu');
    const ref = c.reference?.(x) ?? {};
    for (const [k, r] of Object.entries(ref)) {
      const e = relMax(outs[`out.${k}`], r);
      assert.ok(e <= (c.tol ?? 1e-5), `${k}: ${e.toExponential(2)} from the reference (tolerance ${c.tol ?? 1e-5})`);
    }
    if (c.grad && c.backward && c.reference) {
      const shape = c.forward(toTensors(x, 'cpu'));
      const n = shape[c.grad.output].numel;
      disposeAll(shape);
      const g = seeded(n);
      const withGrads = runOn(c, x, 'cpu', 'f32', g);
      for (const w of c.grad.wrt) {
        const xs = x[w].data as Float32Array;
        const loss = (v: Float32Array) => dot64(c.reference!({ ...x, [w]: { data: v, shape: x[w].shape } })[c.grad!.output], g);
        const e = finiteDiffCheck(xs, withGrads[`grad.${w}`], loss, 10, 1e-3);
        assert.ok(e < (c.grad.tol ?? 3e-3), `d/d${w}: ${e.toExponential(2)} from finite differences`);
      }
    }
  });
  for (const b of BACKENDS)
    test(
      `${c.family}/${c.op} ${c.name}: ${b.device} against the CPU (f32${c.dtypes?.length ? `, ${c.dtypes.join(', ')}` : ''})`,
      { skip: b.skip },
      () => {
        const x = c.inputs();
        for (const dtype of ['f32', ...(c.dtypes ?? [])] as const) {
          const probe = c.forward(toTensors(x, 'cpu', dtype, c.keepF32));
          const g = c.grad ? seeded(probe[c.grad.output].numel) : undefined;
          disposeAll(probe);
          const cpu = runOn(c, x, 'cpu', dtype, g),
            dev = runOn(c, x, b.device, dtype, g);
          const tol = dtype === 'f32' ? (c.backendTol ?? 1e-4) : 2e-2;
          for (const [k, v] of Object.entries(cpu)) {
            const e = relMax(dev[k], v);
            assert.ok(e <= tol, `${dtype} ${k}: ${b.device} is ${e.toExponential(2)} from the CPU (tolerance ${tol})`);
          }
        }
      },
    );
}
