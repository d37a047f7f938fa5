// Run by `npm run bench:gpu` after the attention smoke test, in a process of its own: greedy decoding
// of a small random Llama (f32 and bf16 activations, NF4 and bf16 weights) as one recorded CUDA graph
// against the same decoding as op calls. A graph that misbehaves (or crashes the process) then leaves
// the rest of the call decoding with op calls (PLF_CUDA_GRAPH=0) instead of taking the rows down.
import { info, randomLlamaModel, setMatmulPrecision } from '../lib/index.js';

const c = info().cuda;
if (!c.usable) {
  console.log(`graph smoke: no usable CUDA device (${c.reason})`);
  process.exit(0);
}
setMatmulPrecision('bf16');
const shape = { hidden: 256, layers: 2, heads: 4, kvHeads: 2, intermediate: 512, vocab: 1000 };
const prompt = [Array.from({ length: 12 }, (_, t) => (t * 37 + 5) % shape.vocab)];
let ok = true;
for (const [activations, quantize] of [
  ['f32', 'nf4'],
  ['bf16', 'nf4'],
  ['bf16', null],
] as const) {
  const m = randomLlamaModel(shape, { device: 'cuda', activations, quantize });
  const run = (graph: boolean) => m.generate({ inputIds: prompt }, { maxNewTokens: 16, eosTokenId: null, graph });
  try {
    const eager = run(false);
    const t = performance.now();
    const graph = run(true);
    const same = JSON.stringify(graph) === JSON.stringify(eager);
    console.log(
      `graph smoke: ${activations} activations, ${quantize ?? 'bf16'} weights: ${same ? 'same tokens' : 'OTHER TOKENS'} (${(performance.now() - t).toFixed(1)} ms with recording)`,
    );
    ok &&= same;
  } catch (e) {
    console.log(`graph smoke: ${activations} activations, ${quantize ?? 'bf16'} weights: ${(e as Error).message}`);
    ok = false;
  }
  m.dispose();
}
console.log(`graph smoke: CUDA-graph decoding ${ok ? 'ok' : 'WRONG'}`);
process.exit(ok ? 0 : 1);
