// The CLI validates before it loads anything: out-of-range or non-numeric options, unknown config
// keys and the config/flag precedence (flags win, `--x v` and `--x=v` alike) give one-line errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { spawnAsync } from './helpers.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'plf-native.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plf-cli-'));
const out = path.join(tmp, 'run');
/** The CLI in a child process, asynchronously: the cases of a test run side by side (each is mostly Node's start-up). */
const cli = (args: string[]) => spawnAsync(process.execPath, [bin, ...args]);
const train = async (...args: string[]) => {
  const r = await cli([
    'train',
    '--data',
    path.join(tmp, 'none'),
    '--model',
    path.join(tmp, 'none'),
    '--setting',
    'CLS',
    '--out',
    out,
    ...args,
  ]);
  return { status: r.status, err: r.stderr.trim() };
};

test('train: bad numbers, unknown config keys and the flag/config precedence are one-line errors before anything runs', async () => {
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
  const runs = await Promise.all(cases.map(([args]) => train(...args)));
  for (const [i, [args, re]] of cases.entries()) {
    const r = runs[i];
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re, args.join(' '));
    assert.equal(r.err.split('\n').length, 1, `one line: ${r.err}`);
  }
  assert.ok(!fs.existsSync(out), 'nothing was created');
});

test('help per command, a suggestion for a misspelled command, and a finished run is not trained over without --overwrite', async () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  const evalHelp = run('eval', '--help').stdout;
  assert.match(evalHelp, /^plf-native eval\n/);
  // every option of every command has a description (yargs prints a bare flag otherwise), and every command an example
  const commands = [...run('--help').stdout.matchAll(/^ {2}plf-native (\w+)/gm)].map((m) => m[1]);
  assert.ok(commands.length >= 10, commands.join(' '));
  const helps = await Promise.all(commands.map((c) => cli([c, '--help'])));
  for (const [i, c] of commands.entries()) {
    const help = helps[i].stdout;
    const flags = help.split('\n').filter((l) => /^ {2,8}(-\w, )?--[\w-]+/.test(l));
    if (c === 'train') assert.ok(flags.length > 25);
    // a bare flag is the flag followed only by its [type] [default] annotations
    for (const l of flags)
      assert.match(l.replace(/(\s+\[[^\]]*\]?)+$/, ''), /^\s+(-\w, )?--[\w-]+\s+\S/, `${c}: no description: ${l.trim()}`);
    assert.match(help, /\nExamples:\n/, `${c}: no example`);
  }
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

test('prepare refuses a folder that holds a prepared set or other files unless --overwrite; --verbose adds the stack', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  const raw = path.join(tmp, 'raw.csv');
  fs.writeFileSync(raw, 'id,text,annotator,labels\n');
  const prep = (dir: string, ...extra: string[]) =>
    run('prepare', '--dataset', 'goemotions', '--input', raw, '--split', 'random:0.8,0.1,0.1', '--out', dir, ...extra);
  const set = path.join(tmp, 'prepared');
  fs.mkdirSync(set, { recursive: true });
  fs.writeFileSync(path.join(set, 'manifest.json'), '{}');
  let r = prep(set);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr.trim(),
    /^plf-native: prepare: .*prepared already holds a prepared dataset \(manifest\.json\): pass --overwrite to replace it, or choose another --out$/,
  );
  const other = path.join(tmp, 'other');
  fs.mkdirSync(other, { recursive: true });
  fs.writeFileSync(path.join(other, 'notes.txt'), 'mine');
  assert.match(prep(other).stderr, /already holds other files \(notes\.txt\): pass --overwrite/);
  assert.equal(fs.readFileSync(path.join(other, 'notes.txt'), 'utf8'), 'mine', 'nothing was touched');
  // with --overwrite the old manifest goes first, then the input is read (this one has no rows: its own error)
  r = prep(set, '--overwrite');
  assert.equal(r.status, 1);
  assert.doesNotMatch(r.stderr, /--overwrite/);
  assert.ok(!fs.existsSync(path.join(set, 'manifest.json')));
  // every error is one line; --verbose prints the stack below it
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  const v = prep(set, '--overwrite', '--verbose');
  assert.equal(v.stderr.trim().split('\n')[0], r.stderr.trim());
  assert.match(v.stderr, /\n\s+at .*\.js:\d+/);
});
