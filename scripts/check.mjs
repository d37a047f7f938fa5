// `npm test`'s first half: the TypeScript build, the layer check and the three linters, two at a
// time (they are independent; run one after another they took 35 s of the 3-minute budget on 2
// cores). Each one's output is printed when it ends; any failure fails the whole, after all ended.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const jobs = [
  ['build:ts', bin('tsc'), ['-p', 'tsconfig.json']],
  ['prettier', bin('prettier'), ['--check', '.', '--log-level', 'warn']],
  ['eslint', bin('eslint'), ['.']],
  ['lint:deps', bin('depcruise'), ['lib', 'bin', '--config', '.dependency-cruiser.cjs']],
  ['clang-format', process.execPath, ['scripts/clang-format.mjs', '--check']],
];
// a fresh dist/: outputs of renamed or deleted sources would otherwise still be run as tests
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const slots = Math.max(1, Number(process.env.PLF_CHECK_JOBS ?? 2));
let next = 0,
  failed = [];
const run = ([name, cmd, args]) =>
  new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(cmd, args, { cwd: root });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', (e) => (out += String(e)));
    p.on('close', (code) => {
      process.stdout.write(
        `${code === 0 ? 'ok' : 'FAILED'}  ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n${out.trim() ? out.trimEnd() + '\n' : ''}`,
      );
      if (code !== 0) failed.push(name);
      resolve();
    });
  });
await Promise.all(
  Array.from({ length: slots }, async () => {
    while (next < jobs.length) await run(jobs[next++]);
  }),
);
// tsc leaves the CLI without its executable bit
if (!failed.includes('build:ts')) fs.chmodSync(path.join(root, 'dist/bin/plf-native.js'), 0o755);
if (failed.length) {
  console.error(`check: ${failed.join(', ')} failed`);
  process.exit(1);
}
