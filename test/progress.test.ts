/* eslint-disable no-regex-spaces, no-control-regex -- the expected terminal output is spelled out literally */
// Progress bars: the rendered line, decile lines off a terminal, in-place redraws on one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressBar, formatDuration, settingHooks } from '../lib/util/progress.js';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return {
    out,
    stream: {
      isTTY,
      write: (s: string) => {
        out.push(s);
        return true;
      },
    } as unknown as NodeJS.WriteStream,
  };
}

test("the line shows bar, count, percent, ETA and the step's fields", () => {
  const bar = new ProgressBar('LM-P train', 40, { width: 10, tty: false, stream: sink(false).stream });
  assert.match(bar.render(10, 'loss 1.2345'), /^LM-P train \[###.......\] 10\/40 25%  \d+s ETA \d+s  loss 1\.2345$/);
  assert.match(bar.render(0), /ETA –$/);
  assert.deepEqual([formatDuration(5), formatDuration(65), formatDuration(3725), formatDuration(NaN)], ['5s', '1m05s', '1h02m', '–']);
});

test('off a terminal a line every 10%; on one, redraws in place and ends with a newline', () => {
  const s = sink(false);
  const bar = new ProgressBar('x', 100, { stream: s.stream });
  for (let i = 1; i <= 100; i++) bar.update(i);
  assert.equal(s.out.length, 11); // the first update, then each 10%
  assert.ok(s.out.every((l) => l.endsWith('\n')));
  const t = sink(true);
  const h = settingHooks('CLS', { stream: t.stream });
  h.onStep({ step: 1, total: 2, loss: 0.5, lr: 1e-4, tokens: 100 });
  h.onEval({ step: 1, loss: 0.4, f1: 0.25 });
  h.onStep({ step: 2, total: 2, loss: 0.3, lr: 1e-4, tokens: 100 });
  const all = t.out.join('');
  assert.match(all, /^\rCLS train \[.*\] 1\/2 50%.*loss 0\.5000.*tok\/s.*mem \d+ MiB rss \d+ MiB/);
  assert.match(all, /\r\x1b\[KCLS eval @1: loss 0\.4000  F1-macro 25\.00\n/);
  assert.match(all, /2\/2 100%.*\n$/);
});

test('the first update of a bar shows no ETA (its step was not timed); later ones do', async () => {
  const s = sink(true);
  const bar = new ProgressBar('train', 100, { stream: s.stream, tty: true });
  bar.update(1, 'loss 1');
  assert.match(s.out.join(''), /ETA –/);
  await new Promise((r) => setTimeout(r, 120));
  bar.update(2, 'loss 1');
  assert.match(s.out[s.out.length - 1], /ETA \d+s/);
});

test('tokens/s and the training ETA count step time only: an evaluation between steps changes neither', async () => {
  const s = sink(false);
  const h = settingHooks('LM', { stream: s.stream });
  h.onStep({ step: 1, total: 21, loss: 1, lr: 1e-4, tokens: 100, seconds: 0.5 });
  assert.match(s.out[0], /1\/21 .* ETA 10s .* 200 tok\/s/); // timed from the first step: 20 steps × 0.5 s
  h.onEval({ step: 1, loss: 0.9, f1: 0.1 });
  await new Promise((r) => setTimeout(r, 300)); // an evaluation's wall time
  for (let i = 2; i <= 3; i++) h.onStep({ step: i, total: 21, loss: 1, lr: 1e-4, tokens: 300, seconds: 1.5 });
  // 700 tokens in 3.5 s; 18 steps left at 3.5/3 s each = 21 s
  assert.match(s.out[s.out.length - 1], /3\/21 .* ETA 21s .* 200 tok\/s/);
  // a step without a time (an older hook caller) shows '–' rather than a wall-clock guess
  const u = sink(false);
  settingHooks('X', { stream: u.stream }).onStep({ step: 1, total: 4, loss: 1, lr: 1e-4, tokens: 10 });
  assert.match(u.out[0], /ETA – .* – tok\/s/);
});
