// One (dataset, model, setting) run: Q settings evaluate the base model on prompts; CLS/LM settings
// fine-tune LoRA (+ the score head) and evaluate the best adapter on test. Writes metrics and per-row predictions.
import fs from 'node:fs';
import path from 'node:path';
import { loadModel } from '../models/load.js';
import { type Model } from '../models/model.js';
import { loadPrepared } from '../data/output.js';
import { ByteTokenizer, loadTokenizer, Tokenizer, type TextTokenizer } from '../io/tokenizer.js';
import { TEMPLATES, customTemplate, type Setting, type TemplateSpec } from '../prompts/templates.js';
import { buildExamples } from '../examples/build.js';
import { train, findCheckpoint, checkTrainConfig, DEFAULT_TRAIN, type TrainConfig, type TrainHooks } from '../train/trainer.js';
import { evaluate, clsMetricsAt, tuneThresholds, type EvalResult } from '../eval/evaluate.js';
import type { LoraConfig } from '../models/lora.js';
import type { RunResult } from './report.js';
import { ConfigError } from '../errors.js';
import { withRunFolder, writeFileAtomic } from '../io/files.js';
import { writeRunInfo } from './run-info.js';

/** Progress callbacks of one run (lib/util/progress.ts's settingHooks draws them as bars). */
export type SettingHooks = TrainHooks & { onInfo?: (msg: string) => void; onEvalProgress?: (done: number, total: number) => void };

export interface SettingRun {
  prepared: string;
  model: string;
  modelName?: string;
  setting: Setting;
  out: string;
  quantize?: 'nf4' | null;
  /** where the model runs (default 'cpu') */
  device?: 'cpu' | 'cuda';
  /** recompute each layer in backward instead of keeping its activations */
  gradientCheckpointing?: boolean;
  /** dtype of the hidden states (see LoadModelOptions.activations) */
  activations?: 'f32' | 'bf16' | 'f16';
  lora?: LoraConfig;
  /** train every weight instead of LoRA (small models trained from scratch; implies no quantization) */
  fullFinetune?: boolean;
  /** evaluate the run's best/ adapter (or weights) without training */
  evalOnly?: boolean;
  train?: Partial<TrainConfig>;
  maxLength?: number;
  tokenizer?: TextTokenizer;
  /** Q settings: wrap prompts in the tokenizer's chat template ('auto': when tokenizer_config.json has one) */
  chatTemplate?: 'auto' | 'on' | 'off';
  resume?: boolean;
  /** use at most this many rows (quick runs and tests) */
  limit?: { train?: number; val?: number; test?: number };
  hooks?: SettingHooks;
  /** the caller holds this run by other means (a queue job): a run-folder lock left by another host is taken over */
  takeOverLock?: boolean;
  /**
   * Called once the run folder is locked, before anything in it is read or written: a queue job's
   * last check that no other job finished this run between its own check and the lock (it throws
   * to stop; the lock is released).
   */
  underLock?: () => void;
  /** train anew into a folder that holds a finished run or a checkpoint (its results and checkpoints are removed first) */
  overwrite?: boolean;
  /** CLS settings: also report test metrics with per-label thresholds tuned on the validation split ('tune'), beside the paper's 0.5 */
  threshold?: 'paper' | 'tune';
}

export function specFor(manifest: { dataset?: unknown; labels: string[] }): TemplateSpec {
  const ds = String(manifest.dataset);
  if (ds === 'goemotions' || ds === 'unhealthy') return TEMPLATES[ds];
  return customTemplate(manifest.labels);
}

function withPad(model: Model, pad: number): Model {
  if (model.config.padTokenId === null) model.config.padTokenId = pad;  // as HF recipes set pad = eos
  return model;
}

function chatFor(o: SettingRun, tok: TextTokenizer): ((prompt: string) => string) | undefined {
  const mode = o.chatTemplate ?? 'auto';
  if (!o.setting.startsWith('Q-') || mode === 'off') return undefined;
  const has = tok instanceof Tokenizer && tok.hasChatTemplate;
  if (mode === 'on' && !has) throw new ConfigError(`${o.model}: --chat-template on, but tokenizer_config.json has no chat_template`);
  return has ? (prompt) => (tok as Tokenizer).applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true }) : undefined;
}

export type SettingResult = RunResult & { eval: EvalResult; tuned?: { thresholds: Record<string, number>; metrics: EvalResult['metrics'] } };

export async function runSetting(o: SettingRun): Promise<SettingResult> {
  checkRun(o, { ...DEFAULT_TRAIN, ...o.train });
  // one writer per run folder: a second run into it is refused
  return withRunFolder(
    o.out,
    () => {
      o.underLock?.();
      return runSettingLocked(o);
    },
    { takeOverRemote: o.takeOverLock },
  );
}

/** The run's options in range before anything is loaded (a ConfigError names the option). */
function checkRun(o: SettingRun, cfg: TrainConfig): void {
  checkTrainConfig(cfg, `${o.out}: train`);
  const l = o.lora;
  if (l && (!Number.isInteger(l.r) || l.r < 1 || l.r > 65536)) throw new ConfigError(`${o.out}: lora r must be an integer in 1…65536, got ${l.r}`);
  if (l && (typeof l.alpha !== 'number' || !Number.isFinite(l.alpha))) throw new ConfigError(`${o.out}: lora alpha must be a finite number, got ${l.alpha}`);
  if (l && l.dropout !== undefined && !(l.dropout >= 0 && l.dropout < 1)) throw new ConfigError(`${o.out}: lora dropout must be in [0, 1), got ${l.dropout}`);
  if (o.maxLength !== undefined && (!Number.isInteger(o.maxLength) || o.maxLength < 8))
    throw new ConfigError(`${o.out}: maxLength must be an integer >= 8, got ${o.maxLength}`);
  for (const [k, v] of Object.entries(o.limit ?? {}))
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ConfigError(`${o.out}: limit.${k} must be an integer >= 1, got ${v}`);
  if (!fs.existsSync(o.model)) throw new ConfigError(`${o.model}: no such model folder`);
}

/** A folder with a finished run or a checkpoint is never trained over silently: --resume continues it, --overwrite starts anew. */
function guardFolder(o: SettingRun): void {
  if (o.resume || o.evalOnly) return;
  const done = fs.existsSync(path.join(o.out, 'metrics.json'));
  const ck = findCheckpoint(o.out);
  if (!done && !ck) return;
  if (!o.overwrite)
    throw new ConfigError(
      `${o.out} holds ${done ? 'a finished run (metrics.json)' : `a checkpoint (${ck})`}: pass --resume to continue it, --overwrite to train anew, or choose another --out`,
    );
  for (const f of ['metrics.json', 'predictions.jsonl', 'run.json', 'checkpoint', 'best']) fs.rmSync(path.join(o.out, f), { recursive: true, force: true });
}

async function runSettingLocked(o: SettingRun): Promise<SettingResult> {
  guardFolder(o);
  const t0 = performance.now();
  const data = await loadPrepared(o.prepared);
  const spec = specFor(data.manifest);
  const tok = o.tokenizer ?? loadTokenizer(o.model);
  const pad = tok.padId ?? tok.eosId ?? 0;
  const cfg: TrainConfig = { ...DEFAULT_TRAIN, ...o.train };
  const cut = <T>(rows: T[], n?: number) => (n === undefined ? rows : rows.slice(0, n));
  const shots = o.setting === 'Q-1S' ? 1 : o.setting === 'Q-2S' ? 2 : 0;
  const testRows = cut(shots ? data.shots[shots] : data.splits.test, o.limit?.test);
  const opts = { maxLength: o.maxLength ?? 512 };
  let model: Model;
  if (o.setting.startsWith('Q-')) {
    model = withPad(loadModel(o.model, { task: 'causal-lm', quantize: o.quantize ?? null, device: o.device, activations: o.activations }), pad);
  } else {
    const cls = o.setting.startsWith('CLS');
    const task = cls ? 'sequence-classification' : 'causal-lm';
    const quantize = o.fullFinetune ? null : o.quantize ?? null;
    model = withPad(loadModel(o.model, { task, numLabels: spec.labels.length, quantize, seed: cfg.seed, device: o.device, activations: o.activations }), pad);
    const tr = buildExamples(cut(data.splits.train, o.limit?.train), o.setting, spec, tok, opts);
    const va = buildExamples(cut(data.splits.val, o.limit?.val), o.setting, spec, tok, opts);
    if (tr.truncated + va.truncated) o.hooks?.onInfo?.(`${tr.truncated + va.truncated} train/val prompts truncated to ${opts.maxLength} tokens`);
    if (o.evalOnly) {
      if (!fs.existsSync(path.join(o.out, 'best'))) throw new ConfigError(`${o.out}: no best/ to evaluate (train this setting first)`);
    } else {
      if (o.fullFinetune) model.trainAll();
      else if (!(o.resume && findCheckpoint(o.out))) model.addLora(o.lora ?? { r: 2, alpha: 32, dropout: 0.05, seed: cfg.seed });
      model.gradientCheckpointing = o.gradientCheckpointing ?? false;
      train(model, tok, spec, tr.examples, va.examples, o.out, cfg, { resume: o.resume, padId: pad, hooks: o.hooks });
      writeRunInfo(o.out, {
        base: path.resolve(o.model),
        modelName: o.modelName ?? path.basename(o.model),
        setting: o.setting,
        dataset: String(data.manifest.dataset),
        template: spec,
        maxLength: opts.maxLength,
        lora: o.fullFinetune ? null : (model.lora ?? null),
        quantize,
        device: o.device ?? 'cpu',
        activations: o.activations ?? 'f32',
        task,
        tokenizer: o.tokenizer === undefined ? 'model' : o.tokenizer instanceof ByteTokenizer ? 'byte' : 'custom',
      });
    }
    model.dispose();
    // best/ holds full weights after full fine-tuning (also when only evaluating such a run)
    if (fs.existsSync(path.join(o.out, 'best', 'model.safetensors'))) {
      model = withPad(loadModel(path.join(o.out, 'best'), { task, numLabels: spec.labels.length, device: o.device, activations: o.activations }), pad);
    } else {
      model = withPad(loadModel(o.model, { task, numLabels: spec.labels.length, quantize, seed: cfg.seed, device: o.device, activations: o.activations }), pad);
      model.loadAdapter(path.join(o.out, 'best'));
    }
  }
  const te = buildExamples(testRows, o.setting, spec, tok, { ...opts, withTarget: false, chat: chatFor(o, tok) });
  let testLogits: Float32Array[] = [];
  const ev = evaluate(model, tok, te.examples, spec, { batchSize: cfg.evalBatchSize, padId: pad, stopAtNewline: cfg.stopAtNewline,
    onLogits: o.threshold === 'tune' ? (l) => (testLogits = l) : undefined,
    onProgress: (d) => o.hooks?.onEvalProgress?.(d, te.examples.length) });
  let tuned: { thresholds: Record<string, number>; metrics: EvalResult['metrics'] } | undefined;
  if (o.threshold === 'tune' && model.task === 'sequence-classification') {
    // thresholds from the validation split only; the test rows' logits from the pass above are thresholded again
    const val = buildExamples(cut(data.splits.val, o.limit?.val), o.setting, spec, tok, opts).examples;
    let vp: Float32Array[] = [];
    evaluate(model, tok, val, spec, { batchSize: cfg.evalBatchSize, padId: pad, onProbabilities: (p) => (vp = p) });
    const th = tuneThresholds(vp, val.map((e) => e.truth));
    tuned = { thresholds: Object.fromEntries(spec.labels.map((l, i) => [l, th[i]])), metrics: clsMetricsAt(spec.labels, testLogits, te.examples, th) };
  }
  model.dispose();
  const result = {
    dataset: String(data.manifest.dataset), model: o.modelName ?? path.basename(o.model), setting: o.setting,
    f1Macro: ev.metrics.f1Macro, f1Micro: ev.metrics.f1Micro, subsetAccuracy: ev.metrics.subsetAccuracy,
    perUserF1Mean: ev.metrics.perUser.mean, rows: ev.metrics.rows, unknownWords: ev.unknownWords,
    seconds: (performance.now() - t0) / 1e3,
  };
  // predictions first: metrics.json marks a finished run (experiment skips it)
  writeFileAtomic(path.join(o.out, 'predictions.jsonl'), ev.predictions.map((p) => JSON.stringify(p)).join('\n') + '\n');
  writeFileAtomic(path.join(o.out, 'metrics.json'), JSON.stringify({ ...result, metrics: ev.metrics, truncatedTest: te.truncated, ...(tuned ? { tunedThreshold: tuned } : {}) }, null, 2) + '\n');
  return { ...result, eval: ev, ...(tuned ? { tuned } : {}) };
}
