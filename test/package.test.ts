// The npm package as a user gets it: `npm pack` (the prepack steps: compiled TypeScript + the
// prebuilt CPU addon of scripts/prebuild.mjs, a PLF_CUDA=OFF build), then `npm install` of the
// tarball in a fresh project on a PATH holding only node, npm and sh — no cmake, g++ or nvcc. It
// loads from ESM and CommonJS, runs native ops from the prebuilt addon, and without any addon the
// pure-JS parts still work while a native call says how to fix it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../lib/native/loader.js';

const root = packageRoot();

test('npm pack → npm install without cmake, g++ or nvcc: the prebuilt CPU addon loads from ESM and CommonJS', { timeout: 600_000 }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-pack-'));
  try {
    // prepack's two steps, into a staged copy (the checkout keeps no prebuilds/, so its own installs compile)
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], { cwd: root, stdio: 'pipe' });
    const stage = path.join(tmp, 'stage');
    fs.mkdirSync(stage);
    execFileSync('tar', ['xzf', path.join(tmp, 'plf-native-' + readVersion() + '.tgz'), '-C', stage]);
    const pkgDir = path.join(stage, 'package');
    execFileSync(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs'), '--out', path.join(pkgDir, 'prebuilds')], {
      cwd: root,
      stdio: 'pipe',
    });
    fs.rmSync(path.join(tmp, `plf-native-${readVersion()}.tgz`));
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], { cwd: pkgDir, stdio: 'pipe' });
    const tgz = path.join(tmp, `plf-native-${readVersion()}.tgz`);
    const listing = execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' }).split('\n');
    assert.ok(listing.includes('package/LICENSE'), 'LICENSE shipped');
    assert.ok(
      listing.some((f) => /^package\/prebuilds\/linux-x64\/plf_native\.napi(\.glibc)?\.node$/.test(f)),
      'prebuilt addon shipped',
    );
    assert.ok(
      !listing.some((f) => f.startsWith('package/dist/test/') || f.startsWith('package/build/') || f.startsWith('package/test/')),
      'no tests or build tree',
    );
    assert.ok(fs.statSync(tgz).size < 8 * 2 ** 20, `tarball ${fs.statSync(tgz).size} bytes`);

    // a PATH with node, npm and sh only: no compiler, no cmake, no nvcc (CUDA_HOME points nowhere)
    const bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
    fs.symlinkSync(fs.realpathSync(whichNpm()), path.join(bin, 'npm'));
    fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
    const env = {
      HOME: process.env.HOME ?? tmp,
      PATH: bin,
      CUDA_HOME: path.join(tmp, 'no-cuda'),
      npm_config_cache: process.env.npm_config_cache,
    };
    if (!env.npm_config_cache) delete env.npm_config_cache;
    for (const tool of ['cmake', 'g++', 'c++', 'gcc', 'nvcc', 'make', 'ninja'])
      assert.notEqual(spawnSync(tool, ['--version'], { env }).status, 0, `${tool} must not be reachable`);
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","private":true}\n');
    const inst = spawnSync('npm', ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund', '--omit=dev', '--foreground-scripts'], {
      cwd: app,
      env,
      encoding: 'utf8',
    });
    assert.equal(inst.status, 0, inst.stdout + inst.stderr);
    assert.match(inst.stdout + inst.stderr, /plf-native: using the prebuilt CPU addon \(prebuilds\/linux-x64\)/);
    const installed = path.join(app, 'node_modules', 'plf-native');
    assert.ok(!fs.existsSync(path.join(installed, 'build')), 'nothing was compiled');

    const node = (code: string, type: 'module' | 'commonjs') =>
      spawnSync(process.execPath, ['--input-type=' + type, '-e', code], { cwd: app, env, encoding: 'utf8' });
    const native = `const x = Tensor.from(new Float32Array([1, -2, 3, 0.5]), [1, 4]);
      const q = quantizeNF4(Tensor.from(Float32Array.from({ length: 64 }, (_, i) => i - 32), [1, 64]));
      const i = info();
      console.log(JSON.stringify({ x: Array.from(x.toArray()), cuda: i.build.cuda, reason: i.cuda.reason, q: q.shape }));`;
    const esm = node(`import { Tensor, quantizeNF4, info } from 'plf-native'; ${native}`, 'module');
    assert.equal(esm.status, 0, esm.stderr);
    const e = JSON.parse(esm.stdout);
    assert.deepEqual(e.x, [1, -2, 3, 0.5]);
    assert.deepEqual(e.q, [1, 64]);
    assert.equal(e.cuda, false);
    assert.match(e.reason, /PLF_CUDA=OFF/);
    const cjs = node(`const { Tensor, quantizeNF4, info } = require('plf-native'); ${native}`, 'commonjs');
    assert.equal(cjs.status, 0, cjs.stderr);
    assert.deepEqual(JSON.parse(cjs.stdout), e);
    // the prebuilt addon itself: CPU only, and a CUDA tensor is a typed error, not a crash
    const file = fs.readdirSync(path.join(installed, 'prebuilds', 'linux-x64')).find((f) => f.endsWith('.node'))!;
    const addon = createRequire(import.meta.url)(path.join(installed, 'prebuilds', 'linux-x64', file));
    assert.equal(addon.build_info().cuda, false);
    assert.match(addon.build_info().cudaBuild, /PLF_CUDA=OFF/);
    assert.throws(() => new addon.NativeTensor(0, [2], 1, false), /no CUDA/);
    const cli = spawnSync(path.join(app, 'node_modules', '.bin', 'plf-native'), ['info'], { cwd: app, env, encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /CUDA: +not compiled \(disabled by PLF_CUDA=OFF\)/);

    // no addon at all (--ignore-scripts on a platform without a prebuild): the pure-JS parts work,
    // a native call is an AddonLoadError that says how to build it
    fs.renameSync(path.join(installed, 'prebuilds'), path.join(installed, 'prebuilds-away'));
    const pure = node(
      `import { multilabelMetrics, labelText, parseResponse, Tensor } from 'plf-native';
       const m = multilabelMetrics(['a', 'b'], [Uint8Array.from([1, 0])], [Uint8Array.from([1, 0])]);
       let err = null;
       try { Tensor.zeros([2]); } catch (e) { err = e.name + ': ' + e.message; }
       console.log(JSON.stringify({ f1: m.f1Macro, label: labelText(['a', 'b'], Uint8Array.from([0, 1])), parsed: parseResponse('a', ['a', 'b']), err }));`,
      'module',
    );
    assert.equal(pure.status, 0, pure.stderr);
    const p = JSON.parse(pure.stdout);
    assert.equal(p.label, 'b');
    assert.ok(p.f1 > 0);
    assert.match(p.err, /^AddonLoadError: plf-native: the native addon is not built\. Run `npm rebuild plf-native`/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

function readVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
}
function whichNpm(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (fs.existsSync(path.join(dir, 'npm'))) return path.join(dir, 'npm');
  throw new Error('npm not found on PATH');
}
