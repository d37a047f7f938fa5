// Training checkpoints: adapter (PEFT format) + optimizer moments + loop state, written to a temp
// folder and renamed into place, so a kill at any moment leaves the last complete checkpoint.
import fs from 'node:fs';
import path from 'node:path';
import { Tensor } from '../tensor.js';
import { writeSafetensors } from '../io/checkpoint.js';
import { openSafetensors, readTensor } from '../io/safetensors.js';
import type { Model } from '../models/load.js';
import type { AdamW } from '../ops/optim.js';

export interface LoopState {
  step: number;          // optimizer steps done
  epoch: number;
  batch: number;         // next batch index within the epoch
  dropoutStep: number;
  best: { metric: number; step: number } | null;
  sinceBest: number;
  history: { step: number; loss: number; lr: number; evalLoss?: number; evalF1?: number }[];
}

export function saveCheckpoint(dir: string, model: Model, opt: AdamW, state: LoopState): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  if (model.lora) model.saveAdapter(path.join(tmp, 'adapter'));
  else model.saveWeights(path.join(tmp, 'weights'));
  const st = opt.state();
  const tensors: Record<string, Tensor> = {};
  st.m.forEach((t, i) => (tensors[`m.${i}`] = t));
  st.v.forEach((t, i) => (tensors[`v.${i}`] = t));
  writeSafetensors(path.join(tmp, 'optimizer.safetensors'), tensors);
  fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify({ ...state, optimizerStep: st.step }, null, 1));
  const old = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  fs.rmSync(old, { recursive: true, force: true });
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
  opt.setState({ step: raw.optimizerStep, m: Array.from({ length: n }, (_, i) => readTensor(f, `m.${i}`)),
    v: Array.from({ length: n }, (_, i) => readTensor(f, `v.${i}`)) });
  model.dropoutStep = raw.dropoutStep;
  return { opt, state: raw };
}
