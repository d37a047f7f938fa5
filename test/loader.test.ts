// The addon loads on first use: importing the package never fails, and when the native build is
// missing the first call that needs it is an AddonLoadError saying how to fix it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('a package without its native build imports fine and says how to fix the first native call', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-nobuild-'));
  for (const f of ['CMakeLists.txt', 'package.json']) fs.copyFileSync(path.join(root, f), path.join(tmp, f));
  fs.cpSync(path.join(root, 'dist', 'lib'), path.join(tmp, 'dist', 'lib'), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(tmp, 'node_modules'));
  const script = `
    const p = await import(${JSON.stringify(path.join(tmp, 'dist', 'lib', 'index.js'))});
    const ops = await import(${JSON.stringify(path.join(tmp, 'dist', 'lib', 'ops', 'index.js'))});
    console.log('imported', typeof p.loadModel, typeof ops.geluForward);
    try { p.Tensor.zeros([2]); } catch (e) { console.log(e.name, e.code, e instanceof p.PlfError, e.message.split('\\n')[0]); }`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  fs.rmSync(tmp, { recursive: true, force: true });
  assert.match(out, /^imported function function$/m);
  assert.match(out, /^AddonLoadError PLF_ADDON true plf-native: the native addon is not built\. Run `npm rebuild plf-native`/m);
});

test('the addon works in worker threads and keeps working in the main thread after they exit', async () => {
  const { Worker } = await import('node:worker_threads');
  const { Tensor } = await import('../lib/index.js');
  const { geluForward } = await import('../lib/ops/index.js');
  const x = Tensor.from(new Float32Array([1, -1, 2]), [3]);
  const before = Array.from(geluForward(x).toFloat32());
  const lib = path.join(root, 'dist', 'lib');
  const body = `
    const { parentPort } = await import('node:worker_threads');
    const { Tensor } = await import(${JSON.stringify(pathToFileURL(path.join(lib, 'index.js')).href)});
    const { geluForward } = await import(${JSON.stringify(pathToFileURL(path.join(lib, 'ops', 'index.js')).href)});
    parentPort.postMessage(Array.from(geluForward(Tensor.from(new Float32Array([1, -1, 2]), [3])).toFloat32()));`;
  for (let i = 0; i < 2; i++) {
    // two at once, each loading the addon into its own environment, then exiting (freeing it)
    const outs = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<number[]>((resolve, reject) => {
            const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(body)}`));
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    for (const o of outs) assert.deepEqual(o, before);
  }
  await new Promise((r) => setTimeout(r, 50));
  // the main thread's class survived the workers' environments being torn down
  assert.deepEqual(Array.from(geluForward(x).toFloat32()), before);
  assert.deepEqual(Array.from(geluForward(Tensor.from(new Float32Array([1, -1, 2]), [3])).toFloat32()), before);
});

test('CommonJS: require("plf-native") and require("plf-native/ops") load the same API', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-cjs-'));
  try {
    fs.mkdirSync(path.join(tmp, 'node_modules'));
    fs.symlinkSync(root, path.join(tmp, 'node_modules', 'plf-native'));
    const script = `const p = require('plf-native'); const o = require('plf-native/ops');
      console.log(typeof p.renderPrompt, typeof p.createServer, typeof o.geluForward, p.renderPrompt(p.TEMPLATES.goemotions, 'CLS', { text: 'x' }).endsWith('### Response:'));`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: tmp });
    assert.equal(out.trim(), 'function function function true');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
