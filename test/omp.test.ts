// OpenMP's waiting policy defaults to passive (measured in bench/omp.bench.ts) unless the user set
// one: the default is applied before the addon loads, and info() reports what is in effect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultOmpPolicy } from '../lib/native/loader.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'plf-native.js');

test("OMP_WAIT_POLICY: passive by default, the user's choice (or GOMP_SPINCOUNT) kept", () => {
  const e1: NodeJS.ProcessEnv = {};
  defaultOmpPolicy(e1);
  assert.equal(e1.OMP_WAIT_POLICY, 'passive');
  const e2: NodeJS.ProcessEnv = { OMP_WAIT_POLICY: 'active' };
  defaultOmpPolicy(e2);
  assert.equal(e2.OMP_WAIT_POLICY, 'active');
  const e3: NodeJS.ProcessEnv = { GOMP_SPINCOUNT: '1000' };
  defaultOmpPolicy(e3);
  assert.equal(e3.OMP_WAIT_POLICY, undefined);
  const run = (env: NodeJS.ProcessEnv) =>
    JSON.parse(execFileSync(process.execPath, [bin, 'info', '--json'], { encoding: 'utf8', env })).build.ompWaitPolicy;
  const { OMP_WAIT_POLICY: _o, GOMP_SPINCOUNT: _g, ...base } = process.env;
  assert.equal(run(base), 'passive');
  assert.equal(run({ ...base, OMP_WAIT_POLICY: 'active' }), 'active');
});
