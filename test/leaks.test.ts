// Memory that cannot leak: per model family, a training forward/backward, an optimizer step,
// generation and adapter loading leave memory().cpu.live where it started — every tensor is
// disposed explicitly (the GC finalizer is only a safety net), `using` included. On the CPU here,
// on CUDA too in `npm run test:gpu`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { loadModel, memory, AdamW, Tensor, info, writeRandomLlama, emptyCache } from '../lib/index.js';
import { sharedPath, skipMessage } from './helpers.js';

const FAMILIES = ['llama', 'mistral', 'qwen2', 'phi', 'gpt_neox', 't5'] as const;
const live = () => memory().cpu.live + memory().cuda.live;
const cuda = info().cuda;

test('using: a Tensor, a model and an optimizer are disposed at the end of their block', () => {
  const before = live();
  {
    using t = Tensor.zeros([64, 64]);
    assert.ok(live() >= before + 64 * 64 * 4 && !t.handle.disposed);
  }
  assert.equal(live(), before);
});

for (const device of ['cpu', 'cuda'] as const)
  for (const arch of FAMILIES) {
    const root = sharedPath(`fixtures/hf/${arch}`);
    const skip = !root
      ? skipMessage(`fixtures/hf/${arch}`)
      : device === 'cuda' && !cuda.usable
        ? `no usable CUDA device: ${cuda.reason}`
        : false;
    test(`${arch} on ${device}: forward, backward, AdamW step, generate and adapter load leave no live memory`, { skip }, () => {
      const dir = (...p: string[]) => path.join(root!, ...p);
      const ids = [
        [1, 5, 9, 13, 17, 21],
        [1, 7, 11, 2, 0, 0],
      ];
      const mask = [
        [1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 0, 0],
      ];
      const before = live();
      for (const checkpointing of [false, true]) {
        using m = loadModel(dir('model'), { task: 'causal-lm', quantize: arch === 't5' ? null : 'nf4', device });
        m.addLora({ r: 2, alpha: 4, dropout: 0.1, seed: 3 });
        m.gradientCheckpointing = checkpointing;
        using opt = new AdamW(
          m.trainableParameters().map((p) => p.param),
          { lr: 1e-3 },
        );
        for (let step = 0; step < 2; step++) {
          m.zeroGrad();
          const labels = ids.map((row, b) => row.map((t, i) => (mask[b][i] ? t : -100)));
          const r = m.forward({ inputIds: ids, attentionMask: mask, labels }, { train: true, lossOnly: step === 1 }); // step 1: the chunked head
          assert.ok(Number.isFinite(r.loss)); // a training forward's logits stay the model's until backward
          m.backward(1);
          opt.stepWith(
            m.trainableParameters().map((p) => p.grad),
            { lr: 1e-3 },
          );
        }
        const inference = m.forward({
          inputIds: ids,
          attentionMask: mask,
          ...(arch === 't5'
            ? {
                decoderInputIds: [
                  [0, 5],
                  [0, 7],
                ],
              }
            : {}),
        });
        inference.logits.dispose();
        m.generate({ inputIds: ids, attentionMask: mask }, { maxNewTokens: 3, eosTokenId: null });
      }
      {
        using m = loadModel(dir('model_cls'), { task: 'sequence-classification', device });
        m.loadAdapter(dir('lora_cls'));
        m.forward({
          inputIds:
            arch === 't5'
              ? [
                  [5, 9, 1],
                  [7, 1, 0],
                ]
              : ids,
          attentionMask:
            arch === 't5'
              ? [
                  [1, 1, 1],
                  [1, 1, 0],
                ]
              : mask,
          labels: [
            [1, 0, 0, 0, 0, 0, 0, 1],
            [0, 1, 0, 0, 0, 0, 0, 0],
          ],
        }).logits.dispose();
      }
      assert.equal(live(), before, `${live() - before} bytes still live`);
    });
  }

test('host memory: freed tensor blocks are reused, so a training loop keeps its RSS (glibc heap growth)', () => {
  // 60 steps of forward + backward of a small model with [16·256, 259] logits: RSS grew ~10 MiB a step
  // before large blocks were cached for reuse (native live bytes stayed flat all along)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-rss-'));
  try {
    writeRandomLlama(dir, { hidden: 64, layers: 1, heads: 4, intermediate: 128, vocab: 259 }, { seed: 1 });
    using m = loadModel(dir);
    m.trainAll();
    const seqs = Array.from({ length: 16 }, (_, b) => Array.from({ length: 256 }, (_, t) => 3 + ((b * 7 + t * 13) % 250)));
    const step = () => {
      m.zeroGrad();
      m.forward({ inputIds: seqs, labels: seqs }, { train: true });
      m.backward();
    };
    for (let i = 0; i < 10; i++) step();
    // RSS swings ±100 MiB from step to step (glibc returning and taking pages): compare the medians of
    // the first and the last 10 of 60 steps, which the regression (+10 MiB a step, +500 MiB) far exceeds
    const rss: number[] = [];
    for (let i = 0; i < 60; i++) {
      step();
      rss.push(process.memoryUsage.rss() / 2 ** 20);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const grew = median(rss.slice(-10)) - median(rss.slice(0, 10));
    assert.ok(grew < 100, `RSS grew ${grew.toFixed(0)} MiB over 50 steps (medians of 10)`);
    emptyCache(); // gives the cached blocks back
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
