// Builds the prebuilt CPU addon that the npm package ships, so `npm install plf-native` needs no
// compiler: prebuilds/<platform>-<arch>/plf_native.napi.<libc>.node, found by node-gyp-build.
// Run by `npm pack` / `npm publish` (prepack). CPU only (PLF_CUDA=OFF): a CUDA build depends on
// the user's toolkit and GPU, so it is compiled at install time where nvcc is found (install.mjs).
// The binary is portable across x86-64 CPUs: no -march=native; the AVX2/FMA kernels are chosen at
// run time (__attribute__((target)) + cpuid).
//
//   node scripts/prebuild.mjs [--out DIR] [--reuse]
//   --out    the prebuilds folder (default: <package>/prebuilds)
//   --reuse  copy build/Release's addon instead of compiling, when it is a CPU-only build (tests)
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const outArg = args.indexOf('--out');
const out = outArg >= 0 ? path.resolve(args[outArg + 1]) : path.join(root, 'prebuilds');
const libc = process.platform === 'linux' ? (fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc') : null;
const dest = path.join(out, `${process.platform}-${process.arch}`, `plf_native.napi${libc ? `.${libc}` : ''}.node`);

const cpuOnly = (file) => {
  try {
    return require(file).build_info().cuda === false;
  } catch {
    return false;
  }
};

let built = path.join(root, 'build', 'Release', 'plf_native.node');
if (!(args.includes('--reuse') && fs.existsSync(built) && cpuOnly(built))) {
  const dir = path.join(root, 'build-prebuild');
  execFileSync(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile', '--out', dir, '--log-level', 'warn'], {
    cwd: root,
    env: { ...process.env, PLF_CUDA: 'OFF' },
    stdio: 'inherit',
  });
  built = path.join(dir, 'Release', 'plf_native.node');
  if (!cpuOnly(built)) throw new Error(`${built}: the PLF_CUDA=OFF build does not load or reports CUDA`);
}
fs.mkdirSync(path.dirname(dest), { recursive: true });
fs.copyFileSync(built, dest);
// debug symbols are most of the file; the package ships without them where `strip` exists
try {
  execFileSync('strip', ['--strip-unneeded', dest], { stdio: 'ignore' });
} catch {
  /* no strip: ship unstripped */
}
if (!cpuOnly(dest)) throw new Error(`${dest}: the prebuilt addon does not load`);
console.log(`plf-native: prebuilt CPU addon ${path.relative(process.cwd(), dest)} (${(fs.statSync(dest).size / 2 ** 20).toFixed(1)} MiB)`);
