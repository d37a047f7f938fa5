// The fuzz campaign in CI (test/fuzz/): ≥ 2,000 mutated inputs per parser target and every native op,
// each case in a child process; zero crashes, hangs, untyped errors and errors without the file's name.
// It is in the long suite (`npm run test:long`, which .ci/run runs after `npm test`).
// A deeper run: `npm run fuzz` (20,000 per target); replay one case: `node dist/test/fuzz/campaign.js --seed S --replay TARGET:I`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { campaign, fuzzTarget, table } from './fuzz/campaign.js';
import { TARGETS } from './fuzz/targets.js';

const SEED = Number(process.env.PLF_FUZZ_SEED ?? 12);

test(
  'the fuzz harness counts what it is meant to: accepted, typed, untyped, unnamed, a crash and a hang',
  { timeout: 60_000 },
  async () => {
    const s = await fuzzTarget('selftest', 7, SEED, 1500);
    assert.deepEqual([s.inputs, s.accepted, s.typed, s.untyped, s.unnamed, s.crashes, s.hangs], [7, 2, 1, 1, 1, 1, 1], table([s]));
  },
);

test(`fuzz campaign (seed ${SEED}): no crash, hang, untyped error or unnamed file`, { timeout: 900_000 }, async () => {
  const cases = Object.fromEntries(TARGETS.map((t) => [t.name, t.kind === 'native' ? 4000 : 2000]));
  const stats = await campaign({ cases, seed: SEED, parallel: 2 });
  console.log(table(stats));
  for (const s of stats) {
    assert.ok(s.inputs >= 2000, `${s.target}: ${s.inputs} inputs`);
    assert.deepEqual(
      { untyped: s.untyped, crashes: s.crashes, hangs: s.hangs, unnamed: s.unnamed },
      { untyped: 0, crashes: 0, hangs: 0, unnamed: 0 },
      `${s.target}:\n${s.findings.join('\n')}\n(replay: node dist/test/fuzz/campaign.js --seed ${SEED} --replay '${s.target}:CASE')`,
    );
    assert.ok(s.accepted > 0 && s.typed > 0, `${s.target}: both accepted and refused inputs (${s.accepted} / ${s.typed})`);
  }
  const ops = stats.find((s) => s.ops)!.ops!;
  assert.ok(Object.keys(ops).length >= 45, `native ops covered: ${Object.keys(ops).length}`);
  assert.ok(Math.min(...Object.values(ops)) >= 30, 'every native op gets at least 30 cases');
});
