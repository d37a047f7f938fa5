// Finds and loads the compiled addon (node-gyp-build looks in build/Release and prebuilds/),
// turning a failure into a message that says how to fix it.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import { PlfError } from '../errors.js';

const require = createRequire(import.meta.url);

/** The package root: the folder holding package.json and CMakeLists.txt. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'CMakeLists.txt'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('plf-native: cannot find the package root (no CMakeLists.txt above ' + import.meta.url + ')');
    dir = up;
  }
  return dir;
}

/** The native addon could not be loaded; the message says how to fix it. */
export class AddonLoadError extends PlfError {}

/**
 * OpenMP's waiting policy, set before the addon (and libgomp) loads unless the user chose one:
 * passive. Measured by bench/omp.bench.ts (2-core machine, 2026-12-01): with every core busy,
 * decoding and a training step ran 2.2–2.9× faster than libgomp's default spin (and 8–43× faster
 * than OMP_WAIT_POLICY=active); on a quiet machine they were 6–30% slower. A shared CPU (CI, a
 * laptop, a server) is the common case; OMP_WAIT_POLICY=active or GOMP_SPINCOUNT override it.
 */
export function defaultOmpPolicy(env: NodeJS.ProcessEnv = process.env): void {
  if (env.OMP_WAIT_POLICY === undefined && env.GOMP_SPINCOUNT === undefined) env.OMP_WAIT_POLICY = 'passive';
}

export function loadAddon(): unknown {
  const root = packageRoot();
  defaultOmpPolicy();
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  try {
    return nodeGypBuild(root);
  } catch (e) {
    const msg = (e as Error).message;
    const hint = /No native build was found/.test(msg)
      ? 'the native addon is not built. Run `npm rebuild plf-native` (or `npx cmake-js compile` in ' + root +
        '); it needs cmake >= 3.18 and a C++17 compiler with OpenMP (g++); nvcc is optional.'
      : /GLIBC|GLIBCXX/.test(msg)
        ? 'the addon was built against a newer C/C++ runtime than this machine has; rebuild it here with `npm rebuild plf-native`.'
        : 'loading the native addon failed; rebuild it with `npm rebuild plf-native`.';
    throw new AddonLoadError(`plf-native: ${hint}\n  cause: ${msg}`, 'PLF_ADDON');
  }
}
