// The build itself: `plf-native info --json` reports it, and a CPU-only build (PLF_CUDA=OFF)
// compiles, loads and says it has no CUDA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { packageRoot } from '../lib/native/loader.js';

const root = packageRoot();

test('plf-native info --json reports version, build flags and the CUDA state', () => {
  const out = execFileSync(process.execPath, [path.join(root, 'dist/bin/plf-native.js'), 'info', '--json'], { encoding: 'utf8' });
  const i = JSON.parse(out);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  assert.equal(i.version, pkg.version);
  assert.equal(typeof i.build.cuda, 'boolean');
  assert.ok(i.build.threads >= 1);
  assert.match(i.build.simd, /avx2|scalar/);
  assert.equal(typeof i.cuda.usable, 'boolean');
  if (!i.cuda.usable) assert.ok(i.cuda.reason.length > 0, 'an unusable CUDA always says why');
  const text = execFileSync(process.execPath, [path.join(root, 'dist/bin/plf-native.js'), 'info'], { encoding: 'utf8' });
  assert.match(text, /plf-native \d+\.\d+\.\d+/);
  assert.match(text, /device: /);
});

test('a PLF_CUDA=OFF build compiles, loads and reports no CUDA', { timeout: 300_000 }, () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-cpu-build-'));
  try {
    const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
    execFileSync(process.execPath, [cmakeJs, 'compile', '--out', out, '--log-level', 'error'], {
      cwd: root,
      env: { ...process.env, PLF_CUDA: 'OFF' },
      stdio: 'pipe',
    });
    const addon = createRequire(import.meta.url)(path.join(out, 'Release', 'plf_native.node'));
    const b = addon.build_info();
    assert.equal(b.cuda, false);
    assert.match(b.cudaBuild, /PLF_CUDA=OFF/);
    assert.match(addon.cuda_info().reason, /not compiled with CUDA/);
    assert.throws(() => new addon.NativeTensor(0, [2], 1, false), /no CUDA/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
