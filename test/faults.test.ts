// Fault tests for run folders: ENOSPC at every write of a checkpoint (injected into node:fs), a
// torn checkpoint, orphaned temp folders, and two writers on one run folder. Every case recovers or
// fails with an error naming the path, and no complete checkpoint is ever damaged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, IOError, ConfigError, type Model } from '../lib/index.js';
import { writeRandomLlama } from '../lib/models/random.js';
import { AdamW } from '../lib/ops/optim.js';
import { saveCheckpoint, loadCheckpoint, findCheckpoint, type LoopState } from '../lib/train/checkpoint.js';
import { lockRunFolder } from '../lib/io/files.js';

const TINY = { hidden: 16, layers: 2, heads: 2, kvHeads: 1, intermediate: 24, vocab: 40 };
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-faults-'));
const modelDir = path.join(root, 'model');
writeRandomLlama(modelDir, TINY, { seed: 7 });

function setup(): { m: Model; opt: AdamW } {
  const m = loadModel(modelDir, {});
  m.addLora({ r: 2, alpha: 4, dropout: 0, seed: 1 });
  const opt = new AdamW(
    m.trainableParameters().map((p) => p.param),
    { lr: 1e-3 },
  );
  return { m, opt };
}
const state = (step: number): LoopState => ({ step, epoch: 0, batch: step, dropoutStep: step, best: null, sinceBest: 0, history: [] });
const stepOf = (ck: string) => (JSON.parse(fs.readFileSync(path.join(ck, 'state.json'), 'utf8')) as LoopState).step;
const sides = (run: string) => fs.readdirSync(run).filter((n) => /\.(tmp|old)-\d+$/.test(n));

/** Makes the k-th write-side fs call (open for writing, write, fsync, rename, mkdir) fail with ENOSPC; returns how many ran. */
function injectENOSPC(k: number, fn: () => void): { calls: number; error: unknown } {
  const names = ['openSync', 'writeSync', 'writeFileSync', 'fsyncSync', 'renameSync', 'mkdirSync'] as const;
  const real = Object.fromEntries(names.map((n) => [n, fs[n]])) as Record<(typeof names)[number], (...a: unknown[]) => unknown>;
  let calls = 0;
  for (const n of names)
    (fs as unknown as Record<string, unknown>)[n] = (...a: unknown[]) => {
      if (n === 'openSync' && (a[1] === undefined || a[1] === 'r')) return real[n](...a);
      if (calls++ === k) throw Object.assign(new Error(`ENOSPC: no space left on device, ${n}`), { code: 'ENOSPC', syscall: n });
      return real[n](...a);
    };
  let error: unknown = null;
  try {
    fn();
  } catch (e) {
    error = e;
  } finally {
    for (const n of names) (fs as unknown as Record<string, unknown>)[n] = real[n];
  }
  return { calls, error };
}

test('ENOSPC at every write of a first checkpoint and of a later one: an IOError naming the path, the last complete checkpoint intact, no temp folder left', () => {
  const { m, opt } = setup();
  const count = path.join(root, 'count', 'checkpoint');
  const first = injectENOSPC(1e9, () => saveCheckpoint(count, m, opt, state(1))).calls;
  const next = injectENOSPC(1e9, () => saveCheckpoint(count, m, opt, state(1))).calls; // one more rename: the old folder aside
  assert.ok(first >= 8 && next === first + 1, `a checkpoint takes ${first} write-side calls, a later one ${next}`);
  for (const later of [false, true]) {
    for (let k = 0; k < (later ? next : first); k++) {
      const run = path.join(root, `enospc-${later}-${k}`);
      fs.mkdirSync(run, { recursive: true });
      const ck = path.join(run, 'checkpoint');
      if (later) saveCheckpoint(ck, m, opt, state(1));
      const { error } = injectENOSPC(k, () => saveCheckpoint(ck, m, opt, state(2)));
      assert.ok(error instanceof IOError, `write ${k}: ${String(error)}`);
      assert.match((error as Error).message, /ENOSPC/);
      assert.ok((error as Error).message.includes(run), `write ${k}: the error names the path: ${(error as Error).message}`);
      assert.deepEqual(sides(run), [], `write ${k}: no temp folder left`);
      const found = findCheckpoint(run);
      if (!later) assert.equal(found, null, `write ${k}: nothing complete to resume from`);
      else {
        assert.equal(found, ck);
        assert.equal(stepOf(ck), 1, 'the previous checkpoint, unchanged');
        const fresh = loadModel(modelDir, {});
        loadCheckpoint(
          ck,
          fresh,
          () =>
            new AdamW(
              fresh.trainableParameters().map((p) => p.param),
              { lr: 1e-3 },
            ),
        ).opt.dispose();
        fresh.dispose();
      }
    }
  }
  opt.dispose();
  m.dispose();
});

test('a torn checkpoint is skipped with its reason; a complete one a kill left beside it is used; orphans are removed on the next save', () => {
  const { m, opt } = setup();
  const run = path.join(root, 'torn');
  const ck = path.join(run, 'checkpoint');
  saveCheckpoint(ck, m, opt, state(3));
  fs.cpSync(ck, path.join(run, 'checkpoint.old-123'), { recursive: true }); // a kill between the two renames
  fs.cpSync(ck, path.join(run, 'checkpoint.tmp-456'), { recursive: true });
  fs.writeFileSync(path.join(run, 'checkpoint.tmp-456', 'state.json'), ''); // a kill during the write: 0 bytes
  fs.writeFileSync(path.join(ck, 'state.json'), '{"step": 9, "epo');
  const skipped: { path: string; why: string }[] = [];
  assert.equal(findCheckpoint(run, skipped), path.join(run, 'checkpoint.old-123'));
  assert.deepEqual(skipped.map((s) => path.basename(s.path)).sort(), ['checkpoint', 'checkpoint.tmp-456']);
  assert.ok(
    skipped.every((s) => s.why.includes(s.path) || /state\.json/.test(s.why)),
    JSON.stringify(skipped),
  );
  fs.rmSync(path.join(run, 'checkpoint.old-123', 'optimizer.safetensors'));
  assert.equal(findCheckpoint(run), null, 'a folder missing a file is not complete');
  saveCheckpoint(ck, m, opt, state(4));
  assert.deepEqual(sides(run), []);
  assert.equal(stepOf(findCheckpoint(run)!), 4);
  opt.dispose();
  m.dispose();
});

test('two writers on one run folder: the second is refused with the holder pid; a dead holder (kill -9) is taken over', async () => {
  const run = path.join(root, 'locked');
  const script = `import { lockRunFolder } from ${JSON.stringify(new URL('../lib/io/files.js', import.meta.url).href)};
    lockRunFolder(${JSON.stringify(run)}); console.log('locked'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((r) => child.stdout.on('data', (d) => String(d).includes('locked') && r()));
  assert.throws(
    () => lockRunFolder(run),
    (e: Error) => e instanceof ConfigError && e.message.includes(`pid ${child.pid}`) && e.message.includes(run),
  );
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  const release = lockRunFolder(run);
  const again = lockRunFolder(run); // re-entrant within a process
  again();
  assert.ok(fs.existsSync(path.join(run, '.lock')));
  release();
  assert.ok(!fs.existsSync(path.join(run, '.lock')));
});
