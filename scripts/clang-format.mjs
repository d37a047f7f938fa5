#!/usr/bin/env node
// clang-format over the C++/CUDA sources (native/, test/cuda-emu/) with the package's own binary:
//   node scripts/clang-format.mjs --check   fails listing the files that are not formatted
//   node scripts/clang-format.mjs --write   formats them in place
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const bin = path.join(
  path.dirname(createRequire(import.meta.url).resolve('clang-format')),
  'bin',
  `${process.platform}_${process.arch}`,
  'clang-format',
);
const exts = /\.(h|cc|cpp|cu|cuh)$/;
const walk = (d) =>
  fs
    .readdirSync(d, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : exts.test(e.name) ? [path.join(d, e.name)] : []));
const files = ['native', 'test/cuda-emu'].flatMap((d) => walk(path.join(root, d))).sort();
const write = process.argv.includes('--write');
if (!fs.existsSync(bin)) {
  console.error(`clang-format: no binary for ${process.platform}_${process.arch} in the clang-format package (${bin})`);
  process.exit(2);
}
if (write) {
  execFileSync(bin, ['-i', '--style=file', ...files], { cwd: root, stdio: 'inherit' });
  console.log(`clang-format: formatted ${files.length} files`);
} else {
  const bad = files.filter((f) => spawnSync(bin, ['--dry-run', '--Werror', '--style=file', f], { cwd: root }).status !== 0);
  if (bad.length) {
    console.error(
      `clang-format: ${bad.length} of ${files.length} files need formatting (npm run format):\n  ${bad.map((f) => path.relative(root, f)).join('\n  ')}`,
    );
    process.exit(1);
  }
  console.log(`clang-format: ${files.length} files formatted`);
}
