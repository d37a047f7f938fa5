// One measurement for bench/omp.bench.ts, in a process of its own (OpenMP reads OMP_WAIT_POLICY
// once, when the addon loads): batch-1 greedy decoding of 8 tokens and one QLoRA training step on a
// small random Llama. Prints {decodeMs, stepMs} as JSON.
import { randomLlamaModel, AdamW } from '../lib/index.js';

const shape = { hidden: 256, layers: 4, heads: 4, kvHeads: 2, intermediate: 688, vocab: 2000 };
const m = randomLlamaModel(shape, { quantize: 'nf4', seed: 3 });
m.addLora({ r: 8, alpha: 16, dropout: 0 });
const prompt = [Array.from({ length: 24 }, (_, t) => (t * 7919 + 13) % shape.vocab)];
const median = (f: () => void, n = 3) => {
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  return ts.sort((a, b) => a - b)[n >> 1];
};
const decodeMs = median(() => m.generate({ inputIds: prompt }, { maxNewTokens: 8, eosTokenId: null }));
const opt = new AdamW(
  m.trainableParameters().map((p) => p.param),
  { lr: 1e-4 },
);
const ids = Array.from({ length: 4 }, (_, b) => Array.from({ length: 64 }, (_, t) => (b * 31 + t * 17) % shape.vocab));
const stepMs = median(() => {
  m.zeroGrad();
  m.forward({ inputIds: ids, labels: ids }, { train: true, lossOnly: true });
  m.backward(1);
  opt.stepWith(m.trainableParameters().map((p) => p.grad));
});
console.log(JSON.stringify({ decodeMs, stepMs }));
