// Model engine on the CPU: QLoRA training-step tokens/s (forward + backward + AdamW) with an f32
// vs an NF4 base, bytes per parameter of a loaded NF4 model, and the load time of a multi-GB
// checkpoint (TinyLlama-1.1B shapes, random bf16 weights).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, loadDecoderModel, AdamW, memory, type DecoderModel } from '../lib/index.js';
import { isNF4 } from '../lib/ops/index.js';
import { writeRandomLlama } from '../lib/models/random.js';
import { medianMs, type Row } from './util.js';

type Raw = Record<string, number | string | boolean | string[]>;

function writeRandom(dir: string, cfg: Raw, dtype: 'f32' | 'bf16'): number {
  return writeRandomLlama(
    dir,
    {
      hidden: cfg.hidden_size as number,
      layers: cfg.num_hidden_layers as number,
      heads: cfg.num_attention_heads as number,
      kvHeads: cfg.num_key_value_heads as number,
      intermediate: cfg.intermediate_size as number,
      vocab: cfg.vocab_size as number,
    },
    { dtype, repeatBlock: true },
  );
}

async function trainStep(dir: string, quantize: 'nf4' | null, B: number, T: number, label: string, time: number): Promise<number> {
  const m = loadModel(dir, { quantize });
  m.addLora({ r: 16, alpha: 32, dropout: 0.05 });
  const params = m.trainableParameters();
  const opt = new AdamW(
    params.map((p) => p.param),
    { lr: 1e-4, maxGradNorm: 1 },
  );
  const V = m.config.vocabSize;
  const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 7919 + t * 104729) % V));
  const batch = { inputIds: ids, labels: ids };
  const ms = await medianMs(
    label,
    () => {
      m.zeroGrad();
      m.forward(batch, { train: true });
      m.backward();
      opt.stepWith(params.map((p) => p.grad));
    },
    time,
  );
  opt.dispose();
  m.dispose();
  return (B * T) / (ms / 1e3);
}

function nf4BytesPerParam(m: DecoderModel): number {
  let bytes = 0,
    n = 0;
  for (const l of m.linears()) {
    if (!isNF4(l.weight)) continue;
    const w = l.weight;
    bytes += w.weight.nbytes + w.absmax.nbytes + w.quantMap.nbytes + (w.nestedAbsmax?.nbytes ?? 0) + (w.nestedQuantMap?.nbytes ?? 0);
    n += w.shape[0] * w.shape[1];
  }
  return bytes / n;
}

export async function run(): Promise<Row[]> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-bench-model-'));
  const rows: Row[] = [];
  try {
    const fixture = path.resolve('..', 'shared', 'fixtures', 'hf', 'llama', 'model');
    if (fs.existsSync(fixture)) {
      const f32 = await trainStep(fixture, null, 3, 12, 'fixture f32', 800);
      const nf4 = await trainStep(fixture, 'nf4', 3, 12, 'fixture nf4', 800);
      rows.push({
        suite: 'model',
        case: 'QLoRA train step, fixture llama (3×12 tokens), NF4 base',
        metric: 'tokens/s',
        value: nf4,
        baseline: 'f32 base',
        baselineValue: f32,
      });
    }
    const small = path.join(root, 'llama-100m');
    const n = writeRandom(
      small,
      {
        hidden_size: 768,
        num_hidden_layers: 12,
        num_attention_heads: 12,
        num_key_value_heads: 4,
        intermediate_size: 2048,
        vocab_size: 8000,
        rms_norm_eps: 1e-5,
        rope_theta: 10000,
        tie_word_embeddings: false,
        pad_token_id: 0,
      },
      'f32',
    );
    const f32 = await trainStep(small, null, 4, 128, '100M f32', 4000);
    const nf4 = await trainStep(small, 'nf4', 4, 128, '100M nf4', 4000);
    rows.push({
      suite: 'model',
      case: `QLoRA r=16 train step, ${(n / 1e6).toFixed(0)}M llama (4×128 tokens), NF4 base`,
      metric: 'tokens/s',
      value: nf4,
      baseline: 'f32 base',
      baselineValue: f32,
    });
    fs.rmSync(small, { recursive: true, force: true });

    const cfgFile = path.resolve('..', 'shared', 'fixtures', 'configs', 'tinyllama-1.1b-chat.config.json');
    if (fs.existsSync(cfgFile)) {
      const tl = path.join(root, 'tinyllama');
      const params = writeRandom(tl, JSON.parse(fs.readFileSync(cfgFile, 'utf8')), 'bf16');
      const size = fs.statSync(path.join(tl, 'model.safetensors')).size;
      const rss0 = process.memoryUsage().rss;
      let t = performance.now();
      const m = loadModel(tl);
      const plain = (performance.now() - t) / 1e3;
      const rssPlain = process.memoryUsage().rss - rss0;
      m.dispose();
      const live0 = memory().cpu.live;
      t = performance.now();
      const q = loadDecoderModel(tl, { quantize: 'nf4' });
      const quant = (performance.now() - t) / 1e3;
      const bpp = nf4BytesPerParam(q);
      const modelBytes = memory().cpu.live - live0;
      q.dispose();
      rows.push(
        {
          suite: 'model',
          case: `load TinyLlama-1.1B shapes, ${(size / 2 ** 30).toFixed(2)} GiB bf16 file (weights kept bf16)`,
          metric: 'GB/s',
          value: size / plain / 1e9,
          baseline: `${plain.toFixed(1)} s; RSS grew ${(rssPlain / size).toFixed(2)}× the file`,
          baselineValue: undefined,
        },
        { suite: 'model', case: 'load TinyLlama-1.1B shapes + NF4 quantize at load', metric: 's', value: quant },
        { suite: 'model', case: 'NF4 layer weights (blocksize 64, double quant)', metric: 'bytes/param', value: bpp },
        {
          suite: 'model',
          case: `whole NF4 model in memory (f32 embeddings + head), ${(params / 1e9).toFixed(2)}B params`,
          metric: 'bytes/param',
          value: modelBytes / params,
        },
      );
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return rows;
}
