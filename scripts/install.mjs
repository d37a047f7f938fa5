// `npm install` of plf-native: the addon is compiled only where that gains something.
//   - A git checkout (a developer): always compiled from source (CUDA when nvcc is found); a failed
//     build fails the install, since the developer is about to change and test that code.
//   - An installed package with a prebuilt addon for this platform (prebuilds/, made by
//     scripts/prebuild.mjs at pack time): used as it is, unless nvcc is found (a CUDA build is then
//     compiled; if that fails, the prebuilt CPU addon stays) or PLF_BUILD_FROM_SOURCE=1.
//   - An installed package without one (another platform): compiled; if that fails the install
//     still succeeds, so the pure-JS parts (prepare, prompts, metrics) work, and the first native
//     call says how to build the addon (lib/native/loader.ts).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const env = process.env;

function findNvcc() {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) if (dir && fs.existsSync(path.join(dir, 'nvcc'))) return path.join(dir, 'nvcc');
  const home = path.join(env.CUDA_HOME ?? env.CUDA_PATH ?? '/usr/local/cuda', 'bin', 'nvcc');
  return fs.existsSync(home) ? home : null;
}

function prebuilt() {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  return fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.node')) ? dir : null;
}

function compile() {
  const r = spawnSync(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile', '--log-level', 'warn'], {
    cwd: root,
    stdio: 'inherit',
    env,
  });
  return r.status === 0;
}

const checkout = fs.existsSync(path.join(root, '.git'));
const ship = prebuilt();
const nvcc = env.PLF_CUDA === 'OFF' ? null : findNvcc();
if (checkout) {
  process.exit(compile() ? 0 : 1);
} else if (ship && !nvcc && env.PLF_BUILD_FROM_SOURCE !== '1') {
  console.log(
    `plf-native: using the prebuilt CPU addon (${path.relative(root, ship)}); for CUDA, install the CUDA toolkit and run \`npm rebuild plf-native\``,
  );
} else if (!compile()) {
  console.warn(
    ship
      ? `plf-native: the build from source (${nvcc ? `CUDA, ${nvcc}` : 'PLF_BUILD_FROM_SOURCE=1'}) failed; the prebuilt CPU addon is used`
      : 'plf-native: the native addon could not be built (it needs cmake >= 3.18 and a C++17 compiler with OpenMP); the pure-JS parts work, and `npm rebuild plf-native` retries',
  );
  // a half-written build/ would be found before the prebuilt addon
  fs.rmSync(path.join(root, 'build'), { recursive: true, force: true });
}
