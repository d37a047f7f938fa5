// CUDA kernels checked without a GPU: test/cuda-emu runs them on the CPU (one std::thread per
// CUDA thread, barriers for __syncthreads) against the CPU reference or plain loops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { spawnAsync } from './helpers.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const cxx = process.env.CXX ?? 'g++';
function cxx20Barrier(): string | false {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-emu-probe-'));
  try {
    fs.writeFileSync(path.join(dir, 'p.cpp'), '#include <barrier>\nint main() { std::barrier<> b(1); b.arrive_and_wait(); }\n');
    const r = spawnSync(cxx, ['-std=c++20', '-pthread', 'p.cpp', '-o', 'p'], { cwd: dir, encoding: 'utf8' });
    return r.status === 0
      ? false
      : `${cxx} cannot build C++20 <barrier> (needs g++ >= 11): ${(r.stderr || r.error?.message || '').split('\n')[0]}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const unavailable = cxx20Barrier();
// every check compiles at once, two compilers at a time (the machine's cores), while earlier ones run
const CHECKS = ['attention', 'lora', 'gemv', 'optim', 'norm', 'loss', 'nf4', 'activation', 'rope', 'embedding', 'copy', 'gemm'];
const sh = (name: string, step: 'build' | 'run') => spawnAsync('bash', ['test/cuda-emu/run.sh', name, step]);
const builds = new Map<string, ReturnType<typeof sh>>();
if (!unavailable) {
  let slot: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];
  CHECKS.forEach((c, i) => {
    const b = slot[i % 2].then(() => sh(c, 'build'));
    builds.set(c, b);
    slot = slot.map((s, j) => (j === i % 2 ? b : s));
  });
}
async function emu(name: string) {
  const b = await builds.get(name)!;
  if (b.status !== 0) return b;
  return sh(name, 'run');
}

test(
  'tiled CUDA attention (forward, dK/dV, dQ) and decoding attention (split over keys, f32 and 16-bit in place) on the CPU emulator equal the CPU reference',
  { skip: unavailable, timeout: 240_000 },
  async () => {
    const r = await emu('attention');
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /all cases match the CPU/);
    assert.equal(r.stdout.trim().split('\n').length, 9 + 6, r.stdout);
  },
);

test(
  'LoRA rank-r CUDA kernels (dropout fused, row/column/expand products, decoding xa for up to three adapters in one launch; f32 and 16-bit activations in place) on the CPU emulator equal plain loops',
  { skip: unavailable, timeout: 240_000 },
  async () => {
    const r = await emu('lora');
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /all rank products match/);
    assert.equal(r.stdout.trim().split('\n').length, 17 + 10, r.stdout);
  },
);

test(
  'dense GEMV (f32/bf16/f16 weights, up to 8 rows, 16-byte and element loads, f32 and 16-bit x/y) on the CPU emulator equals plain loops',
  { skip: unavailable, timeout: 240_000 },
  async () => {
    const r = await emu('gemv');
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /all GEMV cases match/);
    assert.equal(r.stdout.trim().split('\n').length, 12, r.stdout);
  },
);

test(
  'AdamW CUDA kernels (two passes, clipping, one pass; f32 and bf16 + master) on the CPU emulator equal the CPU bit for bit',
  { skip: unavailable, timeout: 240_000 },
  async () => {
    const r = await emu('optim');
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /AdamW matches the CPU/);
    assert.equal(r.stdout.trim().split('\n').length, 4, r.stdout);
  },
);

test(
  'RMSNorm and LayerNorm CUDA kernels (forward, dx, weight/bias grads written and accumulated; f32 and 16-bit activations) on the CPU emulator equal the CPU',
  { skip: unavailable, timeout: 240_000 },
  async () => {
    const r = await emu('norm');
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /all norm cases match/);
    assert.equal(r.stdout.trim().split('\n').length, 5 * 10 + 1, r.stdout);
  },
);

test(
  'cross-entropy, BCE and argmax CUDA kernels (per-row terms, dlogits, ignored targets, first-maximum ties and NaN; 16-bit logits in place) on the CPU emulator equal the CPU',
  { skip: unavailable, timeout: 240_000 },
  async () => {
    const r = await emu('loss');
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /all loss cases match/);
    assert.equal(r.stdout.trim().split('\n').length, 2 + 2 * 4 + 2 * 2 + 1, r.stdout);
  },
);

test(
  'NF4 CUDA kernels (quantize; dequantize to f32/bf16, vector and scalar paths, plain and double-quantized absmax) on the CPU emulator equal the CPU bit for bit; the decoding GEMV (f32/bf16/f16 x, into a residual, three weights in one launch bit for bit as one each, gate/up with SwiGLU in one launch bit for bit as three; LoRA adapters in the epilogue bit for bit as the rank-expand pass after; up to 8 rows of x bit for bit row by row, in the one-weight, q/k/v and gate/up + SwiGLU launches) equals double loops',
  { skip: unavailable, timeout: 240_000 },
  async () => {
    const r = await emu('nf4');
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /all NF4 cases match/);
    assert.equal(r.stdout.trim().split('\n').length, 3 * 4 + 6 + 2 * 3 * 2 + 2 + 4 + 3 * 5 + 2 * 4 + 1, r.stdout);
  },
);

// the elementwise families: each kernel in f32 and with bf16/f16 activations read and written in
// place, against the CPU reference on the same values (16-bit: within one ulp of the staged path)
for (const [name, what, done, lines] of [
  ['activation', 'SwiGLU, GELU (erf/tanh), GeGLU, ReLU, tanh, scale (in place too) and add', /all activation cases match/, 3 * 17 + 1],
  ['rope', 'RoPE (full and partial rotation, inverse, in place, q and k in one launch)', /all RoPE cases match/, 2 * 2 + 5 + 1],
  [
    'embedding',
    'embedding lookup (table and output dtypes apart), its scatter-add and the row gather',
    /all embedding cases match/,
    4 * 4 + 1,
  ],
  ['copy', 'column slices, their adding backward and the KV-cache append', /all copy cases match/, 3 * 2 + 3 * 2 + 1],
] as const)
  test(`${what}: CUDA kernels on the CPU emulator equal the CPU (f32, bf16, f16)`, { skip: unavailable, timeout: 240_000 }, async () => {
    const r = await emu(name);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, done);
    assert.equal(r.stdout.trim().split('\n').length, lines, r.stdout);
  });

test(
  'GEMM kernels on the CPU emulator with wmma emulated: tensor cores (bf16/f16; NF4, bf16 and matrix B; A rounded, in place or strided; C f32 or 16-bit, beta 0/1) and the f32 SIMT kernel equal double loops',
  { skip: unavailable, timeout: 240_000 },
  async () => {
    const r = await emu('gemm');
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /all GEMM cases match/);
    assert.equal(r.stdout.trim().split('\n').length, 9 + 1, r.stdout);
  },
);
