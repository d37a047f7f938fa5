// Examples → batches: length-bucketed training order, right-padded training batches, left-padded prompts.
import { Rng, shuffle } from '../util/random.js';
import type { Batch } from '../models/model.js';
import type { Example } from './build.js';

/** Batches of similar length (less padding): sort by length in seeded-shuffled windows, then shuffle the batches. */
export function bucketedBatches(examples: Example[], batchSize: number, seed: number): number[][] {
  const rng = new Rng(seed);
  const idx = shuffle(
    examples.map((_, i) => i),
    rng,
  );
  const window = batchSize * 50,
    batches: number[][] = [];
  for (let w = 0; w < idx.length; w += window) {
    const part = idx.slice(w, w + window).sort((a, b) => examples[a].ids.length - examples[b].ids.length || a - b);
    for (let i = 0; i < part.length; i += batchSize) batches.push(part.slice(i, i + batchSize));
  }
  return shuffle(batches, rng);
}

/**
 * Right-padded training batch; LM labels mask the prompt (and padding) with -100. seq2seq (T5): the
 * prompt is the encoder input and the completion the labels (the model shifts them right).
 */
export function collate(examples: Example[], padId: number, task: 'lm' | 'cls' | 'seq2seq', nLabels: number): Batch {
  if (task === 'seq2seq') {
    const Te = Math.max(...examples.map((e) => e.promptLength));
    const Td = Math.max(1, ...examples.map((e) => e.ids.length - e.promptLength));
    return {
      inputIds: examples.map((e) => [...e.ids.slice(0, e.promptLength), ...new Array(Te - e.promptLength).fill(padId)]),
      attentionMask: examples.map((e) => [...new Array(e.promptLength).fill(1), ...new Array(Te - e.promptLength).fill(0)]),
      labels: examples.map((e) => {
        const t = e.ids.slice(e.promptLength);
        return [...t, ...new Array(Td - t.length).fill(-100)];
      }),
    };
  }
  const T = Math.max(...examples.map((e) => e.ids.length));
  const ids = examples.map((e) => [...e.ids, ...new Array(T - e.ids.length).fill(padId)]);
  const mask = examples.map((e) => e.ids.map(() => 1).concat(new Array(T - e.ids.length).fill(0)));
  if (task === 'cls') return { inputIds: ids, attentionMask: mask, labels: examples.map((e) => Array.from(e.truth.subarray(0, nLabels))) };
  const labels = examples.map((e) => e.ids.map((t, i) => (i < e.promptLength ? -100 : t)).concat(new Array(T - e.ids.length).fill(-100)));
  return { inputIds: ids, attentionMask: mask, labels };
}

/** Left-padded prompts for generation. */
export function collateLeft(examples: Example[], padId: number): { inputIds: number[][]; attentionMask: number[][] } {
  const T = Math.max(...examples.map((e) => e.promptLength));
  return {
    inputIds: examples.map((e) => [...new Array(T - e.promptLength).fill(padId), ...e.ids.slice(0, e.promptLength)]),
    attentionMask: examples.map((e) => [...new Array(T - e.promptLength).fill(0), ...new Array(e.promptLength).fill(1)]),
  };
}
