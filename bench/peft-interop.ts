// Interop, half one (issue 18, deliverable 4): plf-native trains a LoRA adapter on a fixture model for
// a few AdamW steps, saves it in PEFT's format, and writes its logits on a fixed batch. Half two
// (bench/peft-interop.py, in the device call where transformers + peft exist) loads the same model
// with transformers, the adapter with peft, and compares the logits.  argv: fixtureModelDir outDir
import fs from 'node:fs';
import path from 'node:path';
import { loadModel, AdamW } from '../lib/index.js';

const [modelDir, out] = process.argv.slice(2);
if (!modelDir || !out) throw new Error('usage: peft-interop.js <fixture model dir> <out dir>');
fs.mkdirSync(out, { recursive: true });
const ids = [
  [1, 15, 27, 300, 41, 9, 77, 5],
  [1, 400, 3, 62, 2, 0, 0, 0],
];
const mask = ids.map((r, b) => r.map((_, i) => (b === 1 && i >= 5 ? 0 : 1)));
const labels = ids.map((r, b) => r.map((t, i) => (mask[b][i] ? t : -100)));
using m = loadModel(modelDir, { task: 'causal-lm' });
m.addLora({ r: 4, alpha: 8, dropout: 0, seed: 11 });
using opt = new AdamW(
  m.trainableParameters().map((p) => p.param),
  { lr: 1e-2 },
);
for (let step = 0; step < 3; step++) {
  m.zeroGrad();
  m.forward({ inputIds: ids, attentionMask: mask, labels }, { train: true });
  m.backward(1);
  opt.stepWith(m.trainableParameters().map((p) => p.grad));
}
m.saveAdapter(path.join(out, 'adapter'));
const { logits } = m.forward({ inputIds: ids, attentionMask: mask });
fs.writeFileSync(path.join(out, 'ours.json'), JSON.stringify({ ids, mask, shape: logits.shape, logits: Array.from(logits.toFloat32()) }));
logits.dispose();
console.log(`peft-interop: adapter and logits [${ids.length}, ${ids[0].length}, …] written to ${out}`);
