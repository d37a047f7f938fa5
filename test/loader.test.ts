// The addon loads on first use: importing the package never fails, and when the native build is
// missing the first call that needs it is an AddonLoadError saying how to fix it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
