// The CLI validates before it loads anything: out-of-range or non-numeric options, unknown config
// keys and the config/flag precedence (flags win, `--x v` and `--x=v` alike) give one-line errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'plf-native.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-cli-'));
const out = path.join(tmp, 'run');
const train = (...args: string[]) => {
  const r = spawnSync(
    process.execPath,
    [bin, 'train', '--data', path.join(tmp, 'none'), '--model', path.join(tmp, 'none'), '--setting', 'CLS', '--out', out, ...args],
    { encoding: 'utf8' },
  );
  return { status: r.status, err: r.stderr.trim() };
};

test('train: bad numbers, unknown config keys and the flag/config precedence are one-line errors before anything runs', () => {
  const cases: [string[], RegExp][] = [
    [['--lr', 'abc'], /lr must be a number > 0/],
    [['--batch', '0'], /batchSize must be an integer >= 1, got 0/],
    [['--accum', '1.5'], /gradAccum must be an integer/],
    [['--dropout', '1'], /lora dropout must be in \[0, 1\)/],
    [['--max-length', '4'], /maxLength must be an integer >= 8/],
    [['--limit', '0'], /limit\.train must be an integer >= 1/],
  ];
  const cfg = (o: object) => {
    const f = path.join(tmp, `cfg-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(f, JSON.stringify(o));
    return f;
  };
  cases.push([['--config', cfg({ lrr: 0.5 })], /unknown option 'lrr'/]);
  cases.push([['--config', cfg({ batchSize: 0 })], /batchSize must be an integer >= 1, got 0/]); // camelCase keys are read
  cases.push([['--config', cfg({ lr: 0.5 }), '--lr=-1'], /lr must be a number > 0, got -1/]); // the flag wins, = form too
  cases.push([['--config', cfg({ lr: -2 }), '--lr', '-3'], /got -3/]);
  for (const [args, re] of cases) {
    const r = train(...args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re, args.join(' '));
    assert.equal(r.err.split('\n').length, 1, `one line: ${r.err}`);
  }
  assert.ok(!fs.existsSync(out), 'nothing was created');
});
