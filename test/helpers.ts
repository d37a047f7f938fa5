// Test helpers: seeded fresh randomness (the seed is printed so a failure can be replayed),
// float64 references, comparison, finite differences, and the path to ../shared.
import { spawn } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { Tensor, memory } from '../lib/tensor.js';
import type { Model } from '../lib/models/model.js';
import type { Batch } from '../lib/models/model.js';
import { runPrepare } from '../lib/data/run.js';
import { syntheticRows, DEMO_LABELS } from '../lib/experiments/demo.js';

const envSeed = process.env.PLF_TEST_SEED;
export const SEED = envSeed ? Number(envSeed) : (Date.now() ^ (process.pid << 8)) >>> 0;
let state = SEED >>> 0;
if (!process.env.PLF_TEST_QUIET) console.log(`# random seed ${SEED} (replay with PLF_TEST_SEED=${SEED})`);

export function rand(): number {
  // mulberry32
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
export function randn(): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}
export function randnArray(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = randn() * scale;
  return a;
}
export function randInt(lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo));
}
export function randnTensor(shape: number[], scale = 1): Tensor {
  return Tensor.from(
    randnArray(
      shape.reduce((a, b) => a * b, 1),
      scale,
    ),
    shape,
  );
}

/** max |a − b| / max |b| (the fixtures' tolerance measure) */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let md = 0,
    mb = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= md)) md = Number.isNaN(d) ? Infinity : d;
    mb = Math.max(mb, Math.abs(b[i]));
  }
  return mb === 0 ? md : md / mb;
}

/** C[M,N] = A[M,K] · op(B) in float64, where B is [N,K] when transB (y = x·Wᵀ) else [K,N] */
export function matmul64(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number, transB: boolean): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k] * (transB ? b[n * K + k] : b[k * N + n]);
      c[m * N + n] = s;
    }
  return c;
}

export function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

/**
 * Central finite differences of L(x) = Σ f(x) ⊙ g for `samples` random coordinates of input `x`,
 * compared with the analytic gradient `grad`. Returns the worst relative error, measured against the
 * gradient's overall scale (float32 forward passes make tiny entries noisy).
 */
export function finiteDiffCheck(
  x: Float32Array,
  grad: ArrayLike<number>,
  loss: (x: Float32Array) => number,
  samples = 12,
  h = 1e-2,
): number {
  let scale = 0;
  for (let i = 0; i < grad.length; i++) scale = Math.max(scale, Math.abs(grad[i]));
  let worst = 0;
  for (let s = 0; s < samples; s++) {
    const i = randInt(0, x.length);
    const keep = x[i];
    x[i] = keep + h;
    const up = x[i]; // the step actually taken after float32 rounding
    const lp = loss(x);
    x[i] = keep - h;
    const down = x[i];
    const lm = loss(x);
    x[i] = keep;
    const fd = (lp - lm) / (up - down);
    worst = Math.max(worst, Math.abs(fd - grad[i]) / Math.max(scale, 1e-12));
  }
  return worst;
}

/** Σ y ⊙ g in float64 */
export function dot64(y: ArrayLike<number>, g: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * g[i];
  return s;
}

// PLF_SHARED points elsewhere (the GPU machine gets a copy of the fixtures in .device/shared)
export const SHARED = process.env.PLF_SHARED
  ? path.resolve(process.env.PLF_SHARED)
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared');
/** A path under ../shared, or undefined (the caller skips with a message) when it is absent. */
export function sharedPath(rel: string): string | undefined {
  const p = path.join(SHARED, rel);
  return fs.existsSync(p) ? p : undefined;
}
export function skipMessage(rel: string): string {
  return `SKIPPED: ${path.join(SHARED, rel)} is absent (the shared fixtures live beside the checkout at ../shared)`;
}

/** Expects fn to throw an error of class `cls` whose message matches every pattern. */
export function throwsWith(fn: () => unknown, cls: abstract new (...args: never[]) => unknown, ...patterns: RegExp[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error('expected an error, none thrown');
  if (!(err instanceof cls)) throw new Error(`expected ${cls.name}, got ${(err as Error).constructor.name}: ${(err as Error).message}`);
  for (const p of patterns)
    if (!p.test((err as Error).message)) throw new Error(`error message "${(err as Error).message}" does not match ${p}`);
}

/** The demo's synthetic annotations (seed 3, 60 items × 4 annotators) prepared into `dir` (random 0.6/0.2/0.2 split). */
export async function prepareSynthetic(dir: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const raw = path.join(dir, 'raw.csv'),
    prepared = path.join(dir, 'prepared');
  fs.writeFileSync(
    raw,
    syntheticRows(3, 60, 4)
      .map((r) => r.map((f) => (/[",]/.test(f) ? `"${f}"` : f)).join(','))
      .join('\n'),
  );
  await runPrepare({
    dataset: 'custom',
    input: [raw],
    out: prepared,
    split: 'random:0.6,0.2,0.2',
    columns: { text: 'text', annotator: 'annotator', item: 'id', labelList: 'labels', labelNames: DEMO_LABELS },
  });
  return prepared;
}

/**
 * Activation checkpointing against keeping everything, two training steps each, with LoRA dropout 0
 * (the fixture adapter) and 0.3 (a fresh one): the same losses and gradients bit for bit, less memory
 * held after forward, and at dropout 0 the gradients within 1e-3 of transformers'.
 * load(dropout) gives a model with its adapter attached.
 */
export function checkCheckpointing(load: (dropout: number) => Model, batch: Batch, refGrad: (name: string) => Float32Array): void {
  const run = (checkpointing: boolean, dropout: number) => {
    const m = load(dropout);
    m.gradientCheckpointing = checkpointing;
    const before = memory().cpu.live;
    const losses: number[] = [];
    let kept = 0;
    for (let step = 0; step < 2; step++) {
      m.zeroGrad();
      losses.push(m.forward(batch, { train: true }).loss!);
      kept = memory().cpu.live - before;
      m.backward();
    }
    const grads = Object.fromEntries(m.trainableParameters().map((p) => [p.name, p.grad.toFloat32()]));
    m.dispose();
    return { losses, grads, kept };
  };
  for (const dropout of [0, 0.3]) {
    const plain = run(false, dropout),
      ck = run(true, dropout);
    assert.deepEqual(ck.losses, plain.losses);
    for (const [name, gr] of Object.entries(plain.grads)) assert.deepEqual(ck.grads[name], gr, `${name} (dropout ${dropout})`);
    assert.ok(ck.kept < plain.kept, `kept after forward: ${ck.kept} bytes with checkpointing vs ${plain.kept}`);
    if (!dropout)
      for (const [name, gr] of Object.entries(ck.grads)) {
        const d = relDiff(gr, refGrad(name));
        assert.ok(d < 1e-3, `grad ${name} vs transformers: ${d}`);
      }
  }
}

/** A child process run to its end without blocking the event loop (cases run side by side): its status and output. */
export function spawnAsync(cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args);
    let stdout = '',
      stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', (e) => (stderr += String(e)));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
