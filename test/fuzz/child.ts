// One fuzz worker: runs cases [start, end) of one target, writing "B i" before each case and
// "R i outcome detail" after it to a progress file with synchronous writes, so the parent sees
// exactly which case was running when this process crashed or hung.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PlfError } from '../../lib/errors.js';
import { caseRng } from './mutate.js';
import { TARGETS, SELFTEST, lastOp } from './targets.js';

const [name, seedArg, startArg, endArg, progress] = process.argv.slice(2);
const target = [...TARGETS, SELFTEST].find((t) => t.name === name);
if (!target) throw new Error(`no fuzz target '${name}'`);
const seed = Number(seedArg),
  start = Number(startArg),
  end = Number(endArg);
const fd = fs.openSync(progress, 'a');
const say = (s: string) => fs.writeSync(fd, s.replace(/[\r\n]+/g, ' ').slice(0, 400) + '\n');

const base = fs.mkdtempSync(path.join(os.tmpdir(), `plf-fuzz-${name.replace(/\W/g, '')}-`));
try {
  fs.mkdirSync(path.join(base, 'seed'));
  const seedData = await target.setup(path.join(base, 'seed'));
  for (let i = start; i < end; i++) {
    const dir = path.join(base, `case-${i}`);
    fs.mkdirSync(dir, { recursive: true });
    say(`B ${i}`);
    let outcome = 'accepted',
      detail = '';
    try {
      await target.run(caseRng(seed, name, i), seedData, dir);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (!(e instanceof PlfError)) {
        outcome = 'untyped';
        detail = `${(e as Error)?.name ?? typeof e}: ${msg}`;
      } else if (target.kind === 'parser' && !msg.includes(dir)) {
        outcome = 'unnamed';
        detail = `${e.name}: ${msg}`;
      } else {
        outcome = 'typed';
        detail = e.name;
      }
    }
    say(`R ${i} ${outcome}${target.kind === 'native' ? ` op=${lastOp}` : ''} ${detail}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
} finally {
  fs.rmSync(base, { recursive: true, force: true });
  fs.closeSync(fd);
}
