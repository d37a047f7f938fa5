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

test('help per command, a suggestion for a misspelled command, and a finished run is not trained over without --overwrite', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  const evalHelp = run('eval', '--help').stdout;
  assert.match(evalHelp, /^plf-native eval\n/);
  // every option of train has a description (yargs prints a bare flag otherwise)
  const flags = run('train', '--help')
    .stdout.split('\n')
    .filter((l) => /^ {2,8}(-\w, )?--[\w-]+/.test(l));
  assert.ok(flags.length > 25);
  for (const l of flags) assert.match(l, /^\s+(-\w, )?--[\w-]+\s+[^\s[]/, `no description: ${l.trim()}`);
  assert.match(run('trian').stderr, /Did you mean train\?/);
  // a folder holding a finished run
  const done = path.join(tmp, 'done');
  fs.mkdirSync(done, { recursive: true });
  fs.writeFileSync(path.join(done, 'metrics.json'), '{}');
  const model = path.join(tmp, 'model');
  fs.mkdirSync(model, { recursive: true });
  const r = run('train', '--data', path.join(tmp, 'none'), '--model', model, '--setting', 'CLS', '--out', done);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /holds a finished run \(metrics\.json\): pass --resume to continue it, --overwrite to train anew/);
});
