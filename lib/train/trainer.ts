// The training loop for CLS, CLS-P (BCE on the score head) and LM, LM-P (cross-entropy on the
// completion): AdamW, cosine schedule with warmup, gradient accumulation, clipping, periodic
// evaluation, best-checkpoint selection, early stopping and exact resume.
import path from 'node:path';
import { AdamW } from '../ops/optim.js';
import { ConfigError } from '../errors.js';
import type { Model } from '../models/model.js';
import type { TextTokenizer } from '../io/tokenizer.js';
import type { TemplateSpec } from '../prompts/templates.js';
import { evaluate } from '../eval/evaluate.js';
import { bucketedBatches, collate } from '../examples/batches.js';
import { type Example } from '../examples/build.js';
import { cosineWithWarmup } from './schedule.js';
import { DEFAULT_TRAIN as DEFAULTS } from './defaults.js';
import { saveCheckpoint, loadCheckpoint, findCheckpoint, removeStale, type LoopState } from './checkpoint.js';
import { withRunFolder, recoverDir, replaceDir } from '../io/files.js';
import type { StepReport } from '../util/progress.js';

export interface TrainConfig {
  lr: number;
  batchSize: number;
  gradAccum: number;
  epochs: number;
  /** stop after this many optimizer steps (default: epochs × batches / gradAccum) */
  maxSteps?: number;
  warmupRatio: number;
  maxGradNorm: number;
  weightDecay: number;
  seed: number;
  /** evaluate on val every N optimizer steps (0: only at the end) */
  evalEvery: number;
  /** or at the end of every N-th epoch (0: off) */
  evalEveryEpochs?: number;
  bestBy: 'loss' | 'f1';
  /** stop after this many evaluations without improvement (0: never) */
  earlyStop: number;
  /** write a checkpoint every N steps (0: only at evaluations and the end) */
  saveEvery: number;
  evalBatchSize: number;
  /** LM evaluation: a generated newline ends a row's answer (the answers are one line); off, as the paper, by default */
  stopAtNewline?: boolean;
}

/**
 * Every training option in range — integers where counts are meant, finite numbers elsewhere — or a
 * ConfigError naming the option (a `--batch 0` or `--lr abc` used to hang or train on NaN).
 */
export function checkTrainConfig(c: TrainConfig, where = 'train'): void {
  const bad = (k: string, want: string): never => {
    throw new ConfigError(`${where}: ${k} must be ${want}, got ${String((c as unknown as Record<string, unknown>)[k])}`);
  };
  const int = (k: keyof TrainConfig, lo: number, optional = false) => {
    const v = c[k];
    if (optional && v === undefined) return;
    if (!Number.isInteger(v) || (v as number) < lo) bad(k, `an integer >= ${lo}`);
  };
  const real = (k: keyof TrainConfig, lo: number, hi = Infinity, open = false) => {
    const v = c[k] as number;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (open && v === lo))
      bad(k, `a number ${open ? '>' : '>='} ${lo}${hi < Infinity ? ` and <= ${hi}` : ''}`);
  };
  real('lr', 0, Infinity, true);
  int('batchSize', 1);
  int('gradAccum', 1);
  int('epochs', 1);
  int('maxSteps', 1, true);
  real('warmupRatio', 0, 1);
  real('maxGradNorm', 0);
  real('weightDecay', 0);
  int('seed', 0);
  int('evalEvery', 0);
  int('evalEveryEpochs', 0, true);
  int('earlyStop', 0);
  int('saveEvery', 0);
  int('evalBatchSize', 1);
  if (c.bestBy !== 'loss' && c.bestBy !== 'f1') bad('bestBy', "'loss' or 'f1'");
}

export const DEFAULT_TRAIN: TrainConfig = DEFAULTS;

export interface TrainHooks {
  onInfo?: (msg: string) => void;
  onStep?: (s: StepReport) => void;
  onEval?: (s: { step: number; loss: number | null; f1: number }) => void;
}

export { findCheckpoint };

export function train(
  model: Model,
  tok: TextTokenizer,
  spec: TemplateSpec,
  trainSet: Example[],
  valSet: Example[],
  outDir: string,
  cfg: TrainConfig,
  o: { resume?: boolean; padId: number; hooks?: TrainHooks },
): LoopState {
  checkTrainConfig(cfg);
  // one writer per run folder
  return withRunFolder(outDir, () => trainLocked(model, tok, spec, trainSet, valSet, outDir, cfg, o));
}

function trainLocked(...[model, tok, spec, trainSet, valSet, outDir, cfg, o]: Parameters<typeof train>): LoopState {
  const task = model.task === 'sequence-classification' ? 'cls' : model.isEncoderDecoder ? 'seq2seq' : 'lm';
  const makeOpt = () =>
    new AdamW(
      model.trainableParameters().map((p) => p.param),
      { lr: cfg.lr, weightDecay: cfg.weightDecay, maxGradNorm: cfg.maxGradNorm },
    );
  const ckDir = path.join(outDir, 'checkpoint');
  let opt: AdamW;
  let state: LoopState;
  const skipped: { path: string; why: string }[] = [];
  const found = o.resume ? findCheckpoint(outDir, skipped) : null;
  for (const s of skipped) o.hooks?.onInfo?.(`skipping incomplete checkpoint ${s.path}: ${s.why}`);
  // what killed or failed writers left beside checkpoint/ and best/ (the one resumed from stays until the next save)
  removeStale(outDir, 'checkpoint', found);
  recoverDir(path.join(outDir, 'best'));
  if (found) {
    ({ opt, state } = loadCheckpoint(found, model, makeOpt));
    o.hooks?.onInfo?.(`resuming from ${found} at step ${state.step}`);
  } else {
    if (!model.trainableParameters().length)
      throw new ConfigError('train: add LoRA adapters first (model.addLora), or call model.trainAll()');
    opt = makeOpt();
    state = { step: 0, epoch: 0, batch: 0, dropoutStep: 0, best: null, sinceBest: 0, history: [] };
  }
  const perEpoch = Math.ceil(bucketedBatches(trainSet, cfg.batchSize, cfg.seed).length / cfg.gradAccum);
  const total = cfg.maxSteps ?? perEpoch * cfg.epochs;
  const warmup = Math.round(total * cfg.warmupRatio);
  const evaluateNow = () => {
    const r = evaluate(model, tok, valSet, spec, { batchSize: cfg.evalBatchSize, padId: o.padId, stopAtNewline: cfg.stopAtNewline });
    const f1 = r.metrics.f1Macro;
    const metric = cfg.bestBy === 'loss' ? -(r.loss ?? Infinity) : f1;
    const last = state.history[state.history.length - 1];
    if (last) {
      last.evalLoss = r.loss ?? undefined;
      last.evalF1 = f1;
    }
    o.hooks?.onEval?.({ step: state.step, loss: r.loss, f1 });
    if (!state.best || metric > state.best.metric) {
      state.best = { metric, step: state.step };
      state.sinceBest = 0;
      replaceDir(path.join(outDir, 'best'), (tmp) => (model.lora ? model.saveAdapter(tmp) : model.saveWeights(tmp)));
    } else {
      state.sinceBest++;
    }
  };
  let stop = false;
  while (!stop && state.step < total && state.epoch < Math.max(cfg.epochs, Math.ceil(total / perEpoch))) {
    const batches = bucketedBatches(trainSet, cfg.batchSize, cfg.seed * 1000 + state.epoch);
    while (state.batch < batches.length && state.step < total) {
      const group = batches.slice(state.batch, state.batch + cfg.gradAccum);
      const ts = performance.now();
      model.zeroGrad();
      let loss = 0,
        tokens = 0;
      for (const b of group) {
        const ex = b.map((i) => trainSet[i]);
        tokens += ex.reduce((n, e) => n + e.ids.length, 0);
        const r = model.forward(collate(ex, o.padId, task, spec.labels.length), { train: true, lossOnly: true });
        loss += r.loss! / group.length;
        model.backward(1 / group.length);
      }
      const lr = cfg.lr * cosineWithWarmup(state.step, total, warmup);
      opt.stepWith(
        model.trainableParameters().map((p) => p.grad),
        { lr },
      );
      const seconds = (performance.now() - ts) / 1000;
      state.step++;
      state.batch += group.length;
      state.dropoutStep = model.dropoutStep;
      state.history.push({ step: state.step, loss, lr });
      o.hooks?.onStep?.({ step: state.step, total, loss, lr, tokens, seconds });
      const evalNow = cfg.evalEvery > 0 && state.step % cfg.evalEvery === 0;
      if (evalNow) {
        evaluateNow();
        if (cfg.earlyStop > 0 && state.sinceBest >= cfg.earlyStop) {
          stop = true;
        }
      }
      if (evalNow || (cfg.saveEvery > 0 && state.step % cfg.saveEvery === 0)) saveCheckpoint(ckDir, model, opt, state);
      if (stop) break;
    }
    if (state.batch >= batches.length) {
      state.epoch++;
      state.batch = 0;
      if (!stop && cfg.evalEveryEpochs && state.epoch % cfg.evalEveryEpochs === 0 && state.step < total) {
        evaluateNow();
        if (cfg.earlyStop > 0 && state.sinceBest >= cfg.earlyStop) stop = true;
        saveCheckpoint(ckDir, model, opt, state);
      }
    }
  }
  const last = state.history[state.history.length - 1];
  if (!last || last.evalF1 === undefined) evaluateNow();
  saveCheckpoint(ckDir, model, opt, state);
  opt.dispose();
  return state;
}
