// `plf-native pretrain`: causal-LM pretraining of a small Llama from scratch on plain texts, with
// the engine's own training (every weight trained, AdamW, cosine schedule with warmup, atomic
// checkpoints, exact --resume). Texts are tokenized, EOS-separated and packed into fixed-length
// sequences; a held-out share of the texts (never packed with training text) gives the held-out
// loss and perplexity. Writes an HF folder: config.json, model.safetensors, the tokenizer files.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { ByteTokenizer, loadTokenizer, type TextTokenizer } from '../io/tokenizer.js';
import { io, withRunFolder, writeFileAtomic } from '../io/files.js';
import { packageRoot } from '../native/loader.js';
import { Rng, shuffle } from '../util/random.js';
import { AdamW } from '../ops/optim.js';
import { writeRandomLlama, type LlamaShape } from '../models/random.js';
import { loadModel } from '../models/load.js';
import type { Model } from '../models/model.js';
import { findCheckpoint, loadCheckpoint, saveCheckpoint, type LoopState } from './checkpoint.js';
import { cosineWithWarmup } from './schedule.js';
import type { StepReport } from '../util/progress.js';

/** Named sizes (vocab from the tokenizer): tiny ≈ 0.2 M body parameters, small ≈ 1.8 M. */
export const PRETRAIN_SHAPES: Record<'tiny' | 'small', Omit<LlamaShape, 'vocab'>> = {
  tiny: { hidden: 96, layers: 2, heads: 4, intermediate: 256 },
  small: { hidden: 192, layers: 4, heads: 6, intermediate: 512 },
};

export interface PretrainOptions {
  /** the texts (the CLI reads them from files with readTexts) */
  texts: string[];
  out: string;
  shape?: 'tiny' | 'small' | Omit<LlamaShape, 'vocab'>;
  /** 'byte' (default) or a folder with tokenizer.json */
  tokenizer?: string;
  /** a time budget for the optimizer steps (the schedule is sized from the first steps' speed) … */
  minutes?: number;
  /** … or a token budget */
  tokens?: number;
  /** tokens per packed sequence (default 256) */
  seqLen?: number;
  batchSize?: number;
  lr?: number;
  warmupRatio?: number;
  weightDecay?: number;
  seed?: number;
  device?: 'cpu' | 'cuda';
  /** share of the texts held out (default 0.02, at least one text) */
  heldOut?: number;
  /** texts never trained on (an evaluation split): dropped before anything else */
  exclude?: Set<string>;
  resume?: boolean;
  /** pretrain anew into a folder that holds a finished or started pretraining */
  overwrite?: boolean;
  /** checkpoint every this many steps (default 50) */
  saveEvery?: number;
  hooks?: {
    onStep?: (s: StepReport) => void;
    onInfo?: (msg: string) => void;
  };
}

export interface PretrainResult {
  out: string;
  steps: number;
  tokensSeen: number;
  trainLoss: number;
  heldOutLoss: number;
  perplexity: number;
  seconds: number;
  parameters: number;
}

type State = LoopState & { total: number };

function check(o: PretrainOptions): void {
  const pos = (k: keyof PretrainOptions, v: unknown, int = true) => {
    if (v !== undefined && !(typeof v === 'number' && v > 0 && Number.isFinite(v) && (!int || Number.isInteger(v))))
      throw new ConfigError(`pretrain: ${k} must be a positive ${int ? 'integer' : 'number'}, got ${String(v)}`);
  };
  if ((o.minutes === undefined) === (o.tokens === undefined)) throw new ConfigError('pretrain: give one budget, --minutes N or --tokens N');
  pos('minutes', o.minutes, false);
  pos('tokens', o.tokens);
  pos('seqLen', o.seqLen);
  pos('batchSize', o.batchSize);
  pos('lr', o.lr, false);
  pos('saveEvery', o.saveEvery);
  if (o.heldOut !== undefined && !(o.heldOut > 0 && o.heldOut < 0.5))
    throw new ConfigError(`pretrain: heldOut must be in (0, 0.5), got ${o.heldOut}`);
  if (typeof o.shape === 'string' && !(o.shape in PRETRAIN_SHAPES))
    throw new ConfigError(`pretrain: shape must be tiny, small or a JSON shape, got '${o.shape}'`);
}

/** Token ids of the texts, each followed by EOS, cut into sequences of seqLen (the tail is dropped). */
function pack(texts: string[], tok: TextTokenizer, seqLen: number): number[][] {
  const stream: number[] = [];
  for (const t of texts) stream.push(...tok.encode(t, { addSpecialTokens: false }), ...(tok.eosId !== null ? [tok.eosId] : []));
  const out: number[][] = [];
  for (let i = 0; i + seqLen <= stream.length; i += seqLen) out.push(stream.slice(i, i + seqLen));
  return out;
}

function meanLoss(model: Model, seqs: number[][], batch: number): number {
  let sum = 0;
  for (let i = 0; i < seqs.length; i += batch) {
    const part = seqs.slice(i, i + batch);
    const { logits, loss } = model.forward({ inputIds: part, labels: part });
    logits.dispose();
    sum += loss! * part.length;
  }
  return sum / seqs.length;
}

export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  check(o);
  const out = path.resolve(o.out);
  return withRunFolder(out, () => pretrainLocked(o, out));
}

function pretrainLocked(o: PretrainOptions, out: string): PretrainResult {
  const t0 = performance.now();
  const seed = o.seed ?? 42,
    seqLen = o.seqLen ?? 256,
    B = o.batchSize ?? 8;
  const byte = (o.tokenizer ?? 'byte') === 'byte';
  const tokDir = byte ? path.join(packageRoot(), 'experiments', 'byte-tokenizer') : path.resolve(o.tokenizer!);
  const tok: TextTokenizer & { vocabSize: number } = byte ? new ByteTokenizer() : loadTokenizer(tokDir);
  // texts: the excluded ones dropped, the rest shuffled (seeded) and split by text into train / held out
  const texts = shuffle(
    o.texts.filter((t) => !o.exclude?.has(t)),
    new Rng(seed),
  );
  const nHeld = Math.max(1, Math.round(texts.length * (o.heldOut ?? 0.02)));
  if (texts.length < 2) throw new ConfigError(`pretrain: ${texts.length} text(s) — at least 2 are needed (one is held out)`);
  const train = pack(texts.slice(nHeld), tok, seqLen);
  const held = pack(texts.slice(0, nHeld), tok, seqLen).slice(0, 64);
  if (!train.length) throw new ConfigError(`pretrain: the texts hold fewer than ${seqLen} tokens (lower --seq-len or give more text)`);
  if (!held.length)
    throw new ConfigError(`pretrain: the held-out texts hold fewer than ${seqLen} tokens (raise --held-out or lower --seq-len)`);
  o.hooks?.onInfo?.(`pretrain: ${texts.length} texts → ${train.length} training sequences of ${seqLen} tokens, ${held.length} held out`);
  if (!Number.isInteger(tok.vocabSize) || tok.vocabSize < 3 || tok.vocabSize > 1_000_000)
    throw new ConfigError(`pretrain: ${tokDir}: the tokenizer's vocabulary size ${tok.vocabSize} is not in 3…1000000`);
  const shape = typeof o.shape === 'object' ? o.shape : PRETRAIN_SHAPES[o.shape ?? 'tiny'];
  const full: LlamaShape = {
    ...shape,
    vocab: tok.vocabSize,
    bosTokenId: tok.bosId ?? 1,
    eosTokenId: tok.eosId ?? 2,
    padTokenId: tok.padId ?? tok.eosId ?? 0,
  };
  if (!Number.isInteger(full.hidden / full.heads))
    throw new ConfigError(`pretrain: hidden ${full.hidden} must be a multiple of heads ${full.heads}`);
  const init = path.join(out, 'init');
  const parameters = writeRandomLlama(init, full, { seed });
  using model = loadModel(init, { task: 'causal-lm', device: o.device });
  model.trainAll();
  const makeOpt = () =>
    new AdamW(
      model.trainableParameters().map((p) => p.param),
      { lr: o.lr ?? 3e-3, weightDecay: o.weightDecay ?? 0.01, maxGradNorm: 1 },
    );
  let opt: AdamW;
  let state: State;
  const found = o.resume ? findCheckpoint(out) : null;
  if (!o.resume && (fs.existsSync(path.join(out, 'pretrain.json')) || findCheckpoint(out))) {
    if (!o.overwrite)
      throw new ConfigError(
        `${out} holds a pretrained model or a checkpoint: pass --resume to continue it, --overwrite to start anew, or choose another --out`,
      );
    for (const f of ['checkpoint', 'pretrain.json', 'model.safetensors']) fs.rmSync(path.join(out, f), { recursive: true, force: true });
  }
  if (found) {
    const r = loadCheckpoint(found, model, makeOpt);
    opt = r.opt;
    state = r.state as State;
    o.hooks?.onInfo?.(`resuming from ${found} at step ${state.step}`);
  } else {
    opt = makeOpt();
    const total = o.tokens !== undefined ? Math.max(1, Math.ceil(o.tokens / (B * seqLen))) : 0; // minutes: sized after the first steps
    state = { step: 0, epoch: 0, batch: 0, dropoutStep: 0, best: null, sinceBest: 0, history: [], total };
  }
  const ck = path.join(out, 'checkpoint');
  const budgetS = (o.minutes ?? 0) * 60;
  let timed = 0,
    timedS = 0;
  const order = (epoch: number) =>
    shuffle(
      train.map((_, i) => i),
      new Rng(seed * 1000 + epoch),
    );
  let idx = order(state.epoch);
  while (state.total === 0 || state.step < state.total) {
    if (state.batch >= idx.length) {
      state.epoch++;
      state.batch = 0;
      idx = order(state.epoch);
    }
    const seqs = idx.slice(state.batch, state.batch + B).map((i) => train[i]);
    const ts = performance.now();
    model.zeroGrad();
    const { loss } = model.forward({ inputIds: seqs, labels: seqs }, { train: true, lossOnly: true });
    model.backward();
    const total = state.total || 1000; // the warmup of a time budget is sized below, before it matters
    const lr = (o.lr ?? 3e-3) * cosineWithWarmup(state.step, total, Math.round(total * (o.warmupRatio ?? 0.05)));
    opt.stepWith(
      model.trainableParameters().map((p) => p.grad),
      { lr },
    );
    const seconds = (performance.now() - ts) / 1000;
    state.step++;
    state.batch += seqs.length;
    state.history.push({ step: state.step, loss: loss!, lr });
    if (state.total === 0 && state.step > 1) {
      // a time budget: the steps it buys, from the speed of steps 2… (the first one warms up)
      timed++;
      timedS += seconds;
      if (timed === 3) {
        state.total = Math.max(state.step + 1, Math.floor(budgetS / (timedS / timed)));
        o.hooks?.onInfo?.(`pretrain: ${o.minutes} min ≈ ${state.total} steps of ${B} × ${seqLen} tokens`);
      }
    }
    o.hooks?.onStep?.({ step: state.step, total: state.total || state.step + 1, loss: loss!, lr, tokens: seqs.length * seqLen, seconds });
    if (state.step % (o.saveEvery ?? 50) === 0) saveCheckpoint(ck, model, opt, state);
  }
  saveCheckpoint(ck, model, opt, state);
  opt.dispose();
  const heldOutLoss = meanLoss(model, held, B);
  const tail = state.history.slice(-Math.max(1, Math.ceil(state.history.length / 10)));
  const trainLoss = tail.reduce((s, h) => s + h.loss, 0) / tail.length;
  model.saveWeights(out);
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'])
    if (fs.existsSync(path.join(tokDir, f))) io('copy', path.join(out, f), () => fs.copyFileSync(path.join(tokDir, f), path.join(out, f)));
  io('remove', init, () => fs.rmSync(init, { recursive: true, force: true }));
  const result: PretrainResult = {
    out,
    steps: state.step,
    tokensSeen: state.step * B * seqLen,
    trainLoss,
    heldOutLoss,
    perplexity: Math.exp(heldOutLoss),
    seconds: (performance.now() - t0) / 1000,
    parameters,
  };
  writeFileAtomic(
    path.join(out, 'pretrain.json'),
    JSON.stringify(
      {
        ...result,
        shape: full,
        seqLen,
        batchSize: B,
        lr: o.lr ?? 3e-3,
        seed,
        tokenizer: byte ? 'byte' : tokDir,
        texts: texts.length,
        heldOutTexts: nHeld,
      },
      null,
      2,
    ) + '\n',
  );
  return result;
}
