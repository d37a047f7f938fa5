// Metrics against hand-computed cases, and the response parser's edge cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { multilabelMetrics, gain } from '../lib/eval/metrics.js';
import { parseResponse } from '../lib/eval/parse.js';

const B = (...v: number[]) => Uint8Array.from(v);

test('F1 macro / micro, subset accuracy and per-user F1 on a hand-computed case', () => {
  const labels = ['a', 'b', 'c'];
  const truth = [B(1, 0, 0), B(1, 1, 0), B(0, 0, 0), B(0, 1, 0)];
  const pred = [B(1, 0, 0), B(1, 0, 0), B(0, 0, 0), B(1, 1, 0)];
  const m = multilabelMetrics(labels, truth, pred, ['u1', 'u1', 'u2', 'u2']);
  // a: tp 2, fp 1, fn 0 → F1 4/5; b: tp 1, fp 0, fn 1 → 2/3; c: never true nor predicted → 0
  assert.ok(Math.abs(m.perLabel.a.f1 - 0.8) < 1e-12);
  assert.ok(Math.abs(m.perLabel.b.f1 - 2 / 3) < 1e-12);
  assert.equal(m.perLabel.c.f1, 0);
  assert.ok(Math.abs(m.f1Macro - (0.8 + 2 / 3) / 3) < 1e-12);
  // micro: tp 3, fp 1, fn 1 → 6/8
  assert.ok(Math.abs(m.f1Micro - 0.75) < 1e-12);
  assert.equal(m.subsetAccuracy, 0.5);
  // u1: a 1.0, b 0 (fn only), c 0 → 1/3; u2: a 0 (fp only), b 1.0, c 0 → 1/3
  assert.ok(Math.abs(m.perUser.mean - 1 / 3) < 1e-12);
  assert.equal(m.perUser.worst.length, 2);
  assert.ok(Math.abs(gain(0.45, 0.4) - 12.5) < 1e-9);
  assert.ok(Number.isNaN(gain(0.5, 0)));
});

test('response parser: comma lists, case, punctuation, spaces, unknown words, extra lines', () => {
  const labels = ['joy', 'sadness', 'generalisation_unfair', 'not offensive'];
  const p = (s: string) => {
    const r = parseResponse(s, labels);
    return [Array.from(r.labels), r.unknown];
  };
  assert.deepEqual(p(' joy, sadness'), [[1, 1, 0, 0], []]);
  assert.deepEqual(p('JOY.  ,Sadness!!'), [[1, 1, 0, 0], []]);
  assert.deepEqual(p('generalisation unfair; joy'), [[1, 0, 1, 0], []]);
  assert.deepEqual(p('not offensive'), [[0, 0, 0, 1], []]);
  assert.deepEqual(p('joy, happiness, ,'), [[1, 0, 0, 0], ['happiness']]);
  assert.deepEqual(p('\n\nsadness\n### Text: joy'), [[0, 1, 0, 0], []]);
  assert.deepEqual(p(''), [[0, 0, 0, 0], []]);
});

test('stopAtNewline: generation ends at the newline after the first non-blank line, with the same parse as decoding to max_new_tokens', async () => {
  const { evaluate } = await import('../lib/eval/evaluate.js');
  const { ByteTokenizer } = await import('../lib/io/tokenizer.js');
  const tok = new ByteTokenizer();
  const spec = { labels: ['joy', 'anger'] } as unknown as Parameters<typeof evaluate>[3];
  // a model that answers "joy", a newline, then chatter ("anger ..."), a token per step, and honours finished[]
  const answer = [...tok.encode(' \njoy\nanger anger anger anger', { addSpecialTokens: false })];
  let steps = 0;
  const model = {
    task: 'causal-lm',
    isEncoderDecoder: false,
    generate(batch: { inputIds: number[][] }, o: { maxNewTokens: number; onStep?: (n: number[], f: boolean[]) => void }) {
      const B = batch.inputIds.length;
      const out = batch.inputIds.map((r) => [...r]);
      const finished = new Array(B).fill(false);
      for (let i = 0; i < o.maxNewTokens && !finished.every(Boolean); i++, steps++) {
        const next = finished.map((f) => (f ? 0 : (answer[i] ?? 32)));
        next.forEach((t, b) => out[b].push(t));
        o.onStep?.(next, finished);
      }
      return out;
    },
  } as unknown as Parameters<typeof evaluate>[0];
  const ex = { ids: [65, 66], promptLength: 2, truth: Uint8Array.from([1, 0]), user: 'u', text: 't', prompt: 'AB' };
  const stopped = evaluate(model, tok, [ex], spec, { padId: 0, stopAtNewline: true });
  assert.equal(stopped.predictions[0].response, ' \njoy\n', 'a blank first line does not stop it');
  assert.deepEqual(stopped.predictions[0].predicted, ['joy']);
  assert.equal(steps, 6);
  steps = 0;
  const full = evaluate(model, tok, [ex], spec, { padId: 0 });
  assert.ok(steps > 6, `${steps} steps`);
  assert.deepEqual(full.predictions[0].predicted, ['joy']);
  assert.deepEqual(full.metrics, stopped.metrics, 'the parser reads the first non-blank line only: the same metrics');
});

test('clsMetricsAt: the logits of one pass give the metrics evaluate() gives at other thresholds', async () => {
  const { evaluate, clsMetricsAt } = await import('../lib/eval/evaluate.js');
  const { ByteTokenizer } = await import('../lib/io/tokenizer.js');
  const { Tensor } = await import('../lib/index.js');
  const labels = ['a', 'b', 'c'];
  const spec = { labels } as unknown as Parameters<typeof evaluate>[3];
  let seed = 7;
  const rnd = () => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 6 - 3;
  const logits = Array.from({ length: 10 }, () => Float32Array.from({ length: 3 }, rnd));
  let at = 0;
  const model = {
    task: 'sequence-classification',
    isEncoderDecoder: false,
    forward(batch: { labels?: unknown }) {
      const n = Math.min(4, logits.length - at);
      const out = Tensor.from(Float32Array.from(logits.slice(at, at + n).flatMap((l) => Array.from(l))), [n, 3]);
      at += n;
      void batch;
      return { logits: out, loss: 0.5 };
    },
  } as unknown as Parameters<typeof evaluate>[0];
  const ex = logits.map((_, i) => ({
    ids: [65, 66],
    promptLength: 2,
    truth: Uint8Array.from([i % 2, i % 3 ? 1 : 0, 1]),
    user: `u${i % 3}`,
    text: 't',
    prompt: 'AB',
  }));
  const th = [0.3, 0.55, 0.8];
  let seen: Float32Array[] = [];
  at = 0;
  evaluate(model, new ByteTokenizer(), ex, spec, { padId: 0, batchSize: 4, onLogits: (l) => (seen = l) });
  at = 0;
  const direct = evaluate(model, new ByteTokenizer(), ex, spec, { padId: 0, batchSize: 4, thresholds: th });
  assert.deepEqual(clsMetricsAt(labels, seen, ex, th), direct.metrics);
  assert.deepEqual(
    seen.map((l) => Array.from(l)),
    logits.map((l) => Array.from(l)),
  );
});
