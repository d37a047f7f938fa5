// The build itself: `plf-native info --json` reports it. (The CPU-only build, PLF_CUDA=OFF, is the
// prebuilt addon the package ships: test/package.test.ts compiles, installs and checks it.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
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
