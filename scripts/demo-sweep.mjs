// The demo recipe's fine-tuning choices, measured on the VALIDATION split only (issue 16,
// deliverable 3): one change at a time from REAL_DEMO (learning rate, LoRA rank, epochs) for CLS-P
// and LM-P on the demo's pretrained base. Each run's validation loss and F1-macro come from the
// trainer's evaluation on val; the test split is cut to one row and never read for the choice.
//   node scripts/demo-sweep.mjs --demo plf-demo [--write experiments/demo-sweep.json]
// (after `plf-native demo --out plf-demo`, which leaves base/ and prepared/ there)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { runSetting } = await import(path.join(root, 'dist/lib/experiments/run.js'));
const { REAL_DEMO } = await import(path.join(root, 'dist/lib/experiments/demo-real.js'));
const arg = (k, d) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const demo = path.resolve(arg('demo', 'plf-demo'));
const write = arg('write');
const base = { lr: REAL_DEMO.train.lr, r: REAL_DEMO.lora.r, epochs: REAL_DEMO.train.epochs };
const variants = [
  { name: 'recipe', ...base },
  { name: 'lr 1e-3', ...base, lr: 1e-3 },
  { name: 'lr 5e-3', ...base, lr: 5e-3 },
  { name: 'r 4', ...base, r: 4 },
  { name: 'r 16', ...base, r: 16 },
  { name: 'epochs 2', ...base, epochs: 2 },
];
const rows = [];
for (const setting of arg('settings', 'CLS-P,LM-P').split(',')) {
  for (const v of variants) {
    let last = null;
    const t = performance.now();
    await runSetting({
      prepared: path.join(demo, 'prepared'),
      model: path.join(demo, 'base'),
      modelName: 'demo-pretrained',
      setting,
      out: path.join(demo, 'sweep', v.name.replace(/\s+/g, '-'), setting),
      quantize: 'nf4',
      maxLength: 1536,
      lora: { ...REAL_DEMO.lora, r: v.r, alpha: 2 * v.r, seed: 42 },
      train: { ...REAL_DEMO.train, lr: v.lr, epochs: v.epochs, seed: 42 },
      limit: { ...REAL_DEMO.limit, test: 1 },
      chatTemplate: 'off',
      overwrite: true,
      hooks: { onEval: (e) => (last = e) },
    });
    const row = {
      setting,
      variant: v.name,
      lr: v.lr,
      r: v.r,
      epochs: v.epochs,
      valLoss: last?.loss ?? null,
      valF1Macro: last?.f1 ?? null,
      seconds: (performance.now() - t) / 1000,
    };
    rows.push(row);
    console.log(
      `${setting.padEnd(6)} ${v.name.padEnd(9)} val loss ${row.valLoss?.toFixed(4)}  val F1-macro ${(100 * row.valF1Macro).toFixed(2)}  (${row.seconds.toFixed(0)} s)`,
    );
  }
}
if (write) fs.writeFileSync(write, JSON.stringify({ date: new Date().toISOString(), demo, rows }, null, 2) + '\n');
