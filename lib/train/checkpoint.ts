// Training checkpoints: adapter (PEFT format) + optimizer moments + loop state, written to a temp
// folder and renamed into place, so a kill at any moment leaves the last complete checkpoint.
import fs from 'node:fs';
import path from 'node:path';
import { Tensor } from '../tensor.js';
import { FormatError } from '../errors.js';
import { writeSafetensors } from '../io/safetensors.js';
import { replaceDir, writeFileAtomic } from '../io/files.js';
import { openSafetensors, readTensor } from '../io/safetensors.js';
import type { Model } from '../models/model.js';
import type { AdamW } from '../ops/optim.js';

export interface LoopState {
  step: number; // optimizer steps done
  epoch: number;
  batch: number; // next batch index within the epoch
  dropoutStep: number;
  best: { metric: number; step: number } | null;
  sinceBest: number;
  history: { step: number; loss: number; lr: number; evalLoss?: number; evalF1?: number }[];
}

/**
 * Writes the checkpoint into a temp folder beside `dir` and renames it into place (replaceDir):
 * state.json is written last (atomically), so a folder holding a valid state.json is complete.
 * A failed write (ENOSPC) removes its temp folder and leaves the previous checkpoint as it was.
 */
export function saveCheckpoint(dir: string, model: Model, opt: AdamW, state: LoopState): void {
  replaceDir(dir, (tmp) => {
    if (model.lora) model.saveAdapter(path.join(tmp, 'adapter'));
    else model.saveWeights(path.join(tmp, 'weights'));
    const st = opt.state();
    const tensors: Record<string, Tensor> = {};
    st.m.forEach((t, i) => (tensors[`m.${i}`] = t));
    st.v.forEach((t, i) => (tensors[`v.${i}`] = t));
    writeSafetensors(path.join(tmp, 'optimizer.safetensors'), tensors);
    writeFileAtomic(path.join(tmp, 'state.json'), JSON.stringify({ ...state, optimizerStep: st.step }, null, 1));
  });
  removeStale(path.dirname(dir), path.basename(dir), dir);
}

/** Temp/old checkpoint folders (`checkpoint.tmp-PID`, `checkpoint.old-PID`) beside `base` in `parent`. */
export function sideFolders(parent: string, base: string): string[] {
  if (!fs.existsSync(parent)) return [];
  const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(tmp|old)-\\d+$`);
  return fs
    .readdirSync(parent)
    .filter((n) => re.test(n))
    .map((n) => path.join(parent, n));
}

/** Removes the side folders a killed or failed writer left, except `keep`. */
export function removeStale(parent: string, base: string, keep: string | null): void {
  for (const p of sideFolders(parent, base)) if (p !== keep) fs.rmSync(p, { recursive: true, force: true });
}

/** Why the checkpoint folder `dir` cannot be resumed from, or null when it is complete. */
export function checkpointProblem(dir: string): string | null {
  const state = path.join(dir, 'state.json');
  if (!fs.existsSync(state)) return 'no state.json (the write did not finish)';
  let raw: Partial<LoopState> & { optimizerStep?: unknown };
  try {
    raw = JSON.parse(fs.readFileSync(state, 'utf8'));
  } catch (e) {
    return `${state}: ${(e as Error).message}`;
  }
  if (typeof raw !== 'object' || raw === null) return `${state}: not a JSON object`;
  for (const k of ['step', 'epoch', 'batch', 'dropoutStep', 'optimizerStep'] as const)
    if (!Number.isSafeInteger(raw[k]) || (raw[k] as number) < 0) return `${state}: ${k} must be a non-negative integer`;
  if (!Array.isArray(raw.history)) return `${state}: history must be a list`;
  const weights = fs.existsSync(path.join(dir, 'adapter'))
    ? [path.join(dir, 'adapter', 'adapter_config.json'), path.join(dir, 'adapter', 'adapter_model.safetensors')]
    : [path.join(dir, 'weights', 'model.safetensors')];
  for (const f of [...weights, path.join(dir, 'optimizer.safetensors')]) if (!fs.existsSync(f)) return `${f} is missing`;
  try {
    for (const f of [...weights, path.join(dir, 'optimizer.safetensors')]) if (f.endsWith('.safetensors')) openSafetensors(f);
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

/** The most advanced complete checkpoint in run folder `out` (`checkpoint/` or one a kill left beside it), and the ones skipped with why. */
export function findCheckpoint(out: string, skipped: { path: string; why: string }[] = []): string | null {
  const main = path.join(out, 'checkpoint');
  let best: { p: string; step: number } | null = null;
  for (const p of [main, ...sideFolders(out, 'checkpoint').sort()]) {
    if (!fs.existsSync(p)) continue;
    const why = checkpointProblem(p);
    if (why) {
      skipped.push({ path: p, why });
      continue;
    }
    const step = (JSON.parse(fs.readFileSync(path.join(p, 'state.json'), 'utf8')) as LoopState).step;
    if (!best || step > best.step) best = { p, step };
  }
  return best?.p ?? null;
}

/**
 * Restores the adapter into a model without LoRA (or, for full fine-tuning, the weights into a model
 * after trainAll()), the optimizer, and returns the loop state.
 */
export function loadCheckpoint(dir: string, model: Model, makeOpt: () => AdamW): { opt: AdamW; state: LoopState } {
  if (fs.existsSync(path.join(dir, 'adapter'))) model.loadAdapter(path.join(dir, 'adapter'));
  else {
    const w = openSafetensors(path.join(dir, 'weights', 'model.safetensors'));
    for (const p of model.trainableParameters()) {
      const t = readTensor(w, p.name);
      p.param.copyFrom(t);
      t.dispose();
    }
  }
  const opt = makeOpt();
  const raw = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as LoopState & { optimizerStep: number };
  const f = openSafetensors(path.join(dir, 'optimizer.safetensors'));
  const n = model.trainableParameters().length;
  if (f.tensors.size !== 2 * n)
    throw new FormatError(
      `${f.path}: ${f.tensors.size} moment tensors for ${n} trainable parameters (a checkpoint of another model or setting?)`,
    );
  opt.setState({
    step: raw.optimizerStep,
    m: Array.from({ length: n }, (_, i) => readTensor(f, `m.${i}`)),
    v: Array.from({ length: n }, (_, i) => readTensor(f, `v.${i}`)),
  });
  model.dropoutStep = raw.dropoutStep;
  return { opt, state: raw };
}
