// What this installation is: package version, build flags, and the CUDA device or why none is usable.
import fs from 'node:fs';
import path from 'node:path';
import { addon, type BuildInfo, type CudaInfo } from './native/addon.js';
import { packageRoot } from './native/loader.js';

export interface PlfInfo {
  version: string;
  node: string;
  /** ompWaitPolicy: OpenMP's waiting policy in effect (lib/native/loader.ts defaults it to passive) */
  build: BuildInfo & { ompWaitPolicy: string };
  cuda: CudaInfo;
}

export function info(): PlfInfo {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  const build = addon.build_info();
  return {
    version: pkg.version,
    node: process.version,
    build: { ...build, ompWaitPolicy: process.env.OMP_WAIT_POLICY || 'libgomp default' },
    cuda: addon.cuda_info(),
  };
}
