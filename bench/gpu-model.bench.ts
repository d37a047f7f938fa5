// `npm run bench:gpu`, the model part: a QLoRA training step (r=16 on every linear, batch 8×512,
// AdamW) and greedy decoding (batch 1) on Mistral-7B's shapes with random NF4 weights made on
// the GPU, against HF+PEFT measured in the same call (bench/torch-peers.py). Runs in its own
// process (before the kernels: a timeout loses the least), so the peak memory is this model's alone; writes its
// JSON rows as they are measured. argv: torch.json out.json [--layers=N] [--tiny: a small model on the
// CPU, to check this script without a GPU].
import fs from 'node:fs';
import {
  info,
  memory,
  resetPeakMemory,
  emptyCache,
  setMatmulPrecision,
  randomLlamaModel,
  MISTRAL_7B,
  AdamW,
  profileOps,
  formatProfile,
  type DecoderModel,
  type OpTime,
} from '../lib/index.js';
import { addon } from '../lib/native/addon.js';
import { convertOwned } from '../lib/ops/convert.js';
import { Tensor } from '../lib/tensor.js';
import { fmt, gpuRow, gpuSink, gpuSinkMerge, type GpuRow } from './util.js';

const args = process.argv.slice(2);
const tiny = args.includes('--tiny');
const [torchFile, outFile] = args.filter((a) => !a.startsWith('--'));
// the call's facts (date, card, driver, commit, which call) come from scripts/bench-gpu.sh
gpuSink(outFile, JSON.parse(process.env.PLF_GPU_META ?? '{}') as Record<string, unknown>);
const c = info().cuda;
if (!tiny && !c.usable) {
  console.log(`bench:gpu (model): no usable CUDA device (${c.reason})`);
  process.exit(0);
}
const device = tiny ? 'cpu' : 'cuda';
const torch = torchFile && fs.existsSync(torchFile) ? JSON.parse(fs.readFileSync(torchFile, 'utf8')) : null;
// --layers=N: Mistral-7B's layer shapes with fewer layers (the quick device call); the peers use the same count
const layersArg = Number(args.find((a) => a.startsWith('--layers='))?.slice(9) ?? MISTRAL_7B.layers);
const shape = tiny
  ? { hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 96, vocab: 97, slidingWindow: 4096 }
  : { ...MISTRAL_7B, layers: layersArg };
const [B, T] = tiny ? [2, 16] : [8, 512];
const GiB = 2 ** 30;
const sync = () => {
  if (device === 'cuda') addon.synchronize();
};
const seconds = (fn: () => void) => {
  const t = performance.now();
  fn();
  sync();
  return (performance.now() - t) / 1e3;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const held = () => {
  const m = memory();
  return device === 'cuda' ? { peak: m.cuda.peak, reservedPeak: m.cuda.reservedPeak } : { peak: m.cpu.peak, reservedPeak: m.cpu.peak };
};

const rows: GpuRow[] = [];
const row = (r: GpuRow) => gpuRow(rows, r);

if (device === 'cuda') setMatmulPrecision('bf16');
const profiles: Record<string, OpTime[]> = {};
let model!: DecoderModel;
const loadS = seconds(() => {
  model = randomLlamaModel(shape, { device, quantize: 'nf4' });
});
console.log(
  `random NF4 ${tiny ? 'tiny llama' : 'Mistral-7B'} on ${device} in ${fmt(loadS)} s; ${fmt(memory()[device].live / GiB)} GiB held`,
);

// the frozen embedding and LM head in `dtype` (a model loaded with bf16 activations keeps them so:
// the head is the largest read of a decode step after the NF4 weights, 524 MB in f32 on Mistral-7B)
const tables = (dtype: 'f32' | 'bf16') => {
  const tied = model.head.weight === model.embed;
  model.embed = convertOwned(model.embed, dtype);
  if (tied) model.head.weight = model.embed;
  else if (model.head.weight instanceof Tensor) model.head.weight = convertOwned(model.head.weight, dtype);
};

// greedy decoding, batch 1: 16 prompt tokens, 64 new ones (EOS ignored), as op calls per step and
// as one recorded CUDA graph replayed per token (generate's default on CUDA)
const V = model.config.vocabSize,
  decodeTokens = tiny ? 8 : 64;
const prompt = [Array.from({ length: 16 }, (_, t) => (t * 7919 + 13) % V)];
const decode = (graph: boolean, tokens: number) => model.generate({ inputIds: prompt }, { maxNewTokens: tokens, eosTokenId: null, graph });
{
  const n = decodeTokens;
  const rate = (graph: boolean) => {
    decode(graph, 4); // warm-up
    return n / seconds(() => decode(graph, n));
  };
  const eagerTps = rate(false);
  let tps = eagerTps,
    graphError = '';
  try {
    if (process.env.PLF_CUDA_GRAPH === '0') throw new Error('off (PLF_CUDA_GRAPH=0: the graph smoke test failed, or set by hand)');
    const same = JSON.stringify(decode(true, 8)) === JSON.stringify(decode(false, 8));
    if (!same) graphError = 'the CUDA graph decoded other tokens than the op calls';
    else tps = rate(true);
  } catch (e) {
    graphError = (e as Error).message;
  }
  if (graphError) console.log(`decode as a CUDA graph failed: ${graphError}`);
  // where a step's time goes: the op calls (the graph's replay is one launch the profiler cannot split)
  const prof = profileOps(() => decode(false, 8));
  profiles.decode = prof.ops;
  console.log(`decode, 8 tokens as op calls, by op (synchronized: ${fmt(prof.totalMs)} ms in ops):\n${formatProfile(prof.ops, 10)}`);
  const hf = torch?.hf_generate?.tokens_s;
  // one decode row against HF's generate: tokens/s, or why there is none; `goal` false: no goal on this row
  const decodeRow = (what: string, tokensS: number | null, why = '', goal = true) =>
    row({
      case: `greedy decode, batch 1 (NF4 weights), ${what}`,
      ours: tokensS === null ? `failed: ${why.slice(0, 120)}` : `${fmt(tokensS)} tokens/s`,
      peer: hf ? `HF bf16 generate ${fmt(hf)} tokens/s` : '–',
      ratio: hf && tokensS !== null ? tokensS / hf : NaN,
      goal: goal ? '≥ 500 tokens/s (issue 18)' : '(the CUDA graph row carries the goal)',
      met: goal ? tokensS !== null && tokensS >= 500 : null,
      unit: 'tokens/s',
      oursValue: tokensS ?? undefined,
      peerValue: hf,
      peerName: 'HF bf16 generate',
    });
  decodeRow('op calls per step', eagerTps, '', false);
  decodeRow('CUDA graph', graphError ? null : tps, graphError);
  // bf16 activations (a bf16 KV cache, the embedding and head in bf16 as a model loaded so keeps
  // them), graph replayed
  if (!graphError) {
    model.activations = 'bf16';
    try {
      tables('bf16');
      const bf = rate(true);
      decodeRow('CUDA graph, bf16 activations and head', bf);
      tps = Math.max(tps, bf);
    } catch (e) {
      decodeRow('CUDA graph, bf16 activations and head', null, (e as Error).message);
    } finally {
      model.activations = 'f32';
      tables('f32');
    }
  }
  // a server's decoding batch: 8 prompts at once, one graph replay per token for all of them (the
  // fused q/k/v and gate/up GEMVs take 1–8 rows); no peer measured: what batching buys over batch 1
  if (!graphError) {
    const prompts = Array.from({ length: 8 }, (_, b) => Array.from({ length: 16 }, (_, t) => (b * 104729 + t * 7919 + 13) % V));
    const many = (tokens: number) => model.generate({ inputIds: prompts }, { maxNewTokens: tokens, eosTokenId: null, graph: true });
    try {
      many(4); // warm-up and the graph of this shape
      const agg = (8 * decodeTokens) / seconds(() => many(decodeTokens));
      row({
        case: 'greedy decode, batch 8 (NF4 weights), CUDA graph: all rows',
        ours: `${fmt(agg)} tokens/s (${fmt(agg / tps)}× batch 1)`,
        peer: '–',
        ratio: NaN,
        goal: '(informational: the batch-1 rows carry the goal)',
        met: null,
        unit: 'tokens/s',
        oursValue: agg,
      });
    } catch (e) {
      console.log(`decode, batch 8: ${(e as Error).message}`);
    }
  }
  // the decode goal: ≥ 5× torch's CUDA-graph loop (../shared/device/peers/decode_peer.py, full call)
  const peerFile = process.env.PLF_DECODE_PEER;
  const graphed =
    peerFile && fs.existsSync(peerFile)
      ? (fs
          .readFileSync(peerFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { name: string; tokens_s?: number })
          .find((l) => l.name.startsWith('torch_decode_cudagraph') && l.tokens_s)?.tokens_s ?? null)
      : null;
  if (graphed && shape.layers === MISTRAL_7B.layers)
    row({
      case: 'greedy decode, batch 1, vs torch CUDA-graph loop',
      ours: `${fmt(tps)} tokens/s`,
      peer: `torch bf16 CUDA graph ${fmt(graphed)} tokens/s`,
      ratio: tps / graphed,
      goal: '≥ 5× (issue 18)',
      met: tps / graphed >= 5,
      unit: 'tokens/s',
      oursValue: tps,
      peerValue: graphed,
      peerName: 'decode_peer.py (CUDA graph)',
    });
}

// one optimizer step = forward + backward + AdamW over 8×512 tokens; peaks are this setting's own
function trainStep(checkpointing: boolean, activations: 'f32' | 'bf16'): { tps: number; peakGiB: number; reservedGiB: number } {
  model.gradientCheckpointing = checkpointing;
  model.activations = activations;
  emptyCache();
  resetPeakMemory();
  const params = model.trainableParameters();
  const opt = new AdamW(
    params.map((p) => p.param),
    { lr: 1e-4, weightDecay: 0.01, maxGradNorm: 1 },
  );
  const V = model.config.vocabSize;
  const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 7919 + t * 104729 + 1) % V));
  const batch = { inputIds: ids, attentionMask: ids.map((r) => r.map(() => 1)), labels: ids };
  const step = () => {
    model.zeroGrad();
    model.forward(batch, { train: true, lossOnly: true }); // the LM head and loss chunked: no [tokens, vocab] logits
    model.backward();
    opt.stepWith(params.map((p) => p.grad));
  };
  step(); // warm-up: the allocator's cache fills
  const times = [0, 1, 2].map(() => seconds(step));
  const prof = profileOps(step);
  profiles[`step, ${activations}${checkpointing ? ', checkpointing' : ''}`] = prof.ops;
  console.log(`one step by op (synchronized: ${fmt(prof.totalMs)} ms in ops):\n${formatProfile(prof.ops, 15)}`);
  opt.dispose();
  const h = held();
  return { tps: (B * T) / median(times), peakGiB: h.peak / GiB, reservedGiB: h.reservedPeak / GiB };
}

model.addLora({ r: 16, alpha: 32, dropout: 0.05 });
const trainable = model.trainableParameters().reduce((a, p) => a + p.param.numel, 0);
console.log(`LoRA r=16 on every linear: ${trainable.toLocaleString('en-US')} trainable parameters`);
const hf = torch?.hf_train;
// bf16 activations halve activation memory (math stays f32); checkpointing keeps one layer's
const settings: [boolean, 'f32' | 'bf16'][] = [
  [true, 'f32'],
  [true, 'bf16'],
  [false, 'bf16'],
  [false, 'f32'],
];
for (const [checkpointing, activations] of settings) {
  try {
    const r = trainStep(checkpointing, activations);
    const ratio = hf ? r.tps / hf.tokens_s : NaN;
    const fits = r.reservedGiB <= 10;
    row({
      case: `QLoRA step ${B}×${T}, ${activations} act., ${checkpointing ? 'checkpointing' : 'all kept'}`,
      ours: `${fmt(r.tps)} tok/s, ${fmt(r.reservedGiB)} GiB`,
      peer: hf ? `HF+PEFT ${fmt(hf.tokens_s)} tok/s, ${fmt(hf.peak_GiB)} GiB` : '–',
      ratio,
      goal: '≥ 1.6× HF+PEFT in ≤ 10 GiB (issue 18)',
      met: hf ? ratio >= 1.6 && fits : null,
      unit: 'tokens/s',
      oursValue: r.tps,
      peerValue: hf?.tokens_s,
      peerName: 'HF+PEFT bf16 LoRA r=16',
    });
    console.log(`  live peak ${fmt(r.peakGiB)} GiB; cudaMalloc'd peak ${fmt(r.reservedGiB)} GiB`);
  } catch (e) {
    console.log(`QLoRA step (${activations} activations, checkpointing ${checkpointing}) failed: ${(e as Error).message}`);
  }
}
// decoding with the trained adapters on every linear (the paper's LM-P model, served): each adapter's
// A·x for a projection group in one launch, B·(A·x) in the NF4 GEMVs' epilogues, graph replayed
{
  const what = 'CUDA graph, LoRA r=16 on every linear';
  try {
    const lora = (graph: boolean) => {
      decode(graph, 4); // warm-up (the recording's pool)
      return decodeTokens / seconds(() => decode(graph, decodeTokens));
    };
    const withGraph = device === 'cuda' && process.env.PLF_CUDA_GRAPH !== '0';
    const t = lora(withGraph);
    row({
      case: `greedy decode, batch 1 (NF4 weights), ${withGraph ? what : 'op calls, LoRA r=16 on every linear'}`,
      ours: `${fmt(t)} tokens/s`,
      peer: '–',
      ratio: NaN,
      goal: '(informative: the adapters on top of the CUDA graph row)',
      met: null,
      unit: 'tokens/s',
      oursValue: t,
    });
    const prof = profileOps(() => decode(false, 8));
    profiles['decode, LoRA r=16'] = prof.ops;
    console.log(
      `decode with LoRA, 8 tokens as op calls, by op (synchronized: ${fmt(prof.totalMs)} ms in ops):\n${formatProfile(prof.ops, 10)}`,
    );
  } catch (e) {
    console.log(`decode with LoRA failed: ${(e as Error).message}`);
  }
}
model.dispose();

gpuSinkMerge({
  model: {
    loadSeconds: loadS,
    trainableParameters: trainable,
    batch: [B, T],
    shape: tiny ? 'tiny' : `Mistral-7B shapes, ${shape.layers} layers`,
    profiles,
  },
});
