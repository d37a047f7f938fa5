// Prepared rows → token examples for one setting, length-bucketed batches, and collation.
import { renderPrompt, renderTarget, type Setting, type TemplateSpec } from '../prompts/templates.js';
import { encodeWithin, type TextTokenizer } from '../io/tokenizer.js';
import { Rng } from '../util/random.js';
import { shuffle } from '../data/prepare.js';
import type { PreparedRow, PreparedShotRow } from '../data/output.js';
import type { Batch } from '../models/decoder.js';

export interface Example {
  ids: number[];
  /** tokens of the prompt (LM: the completion follows) */
  promptLength: number;
  /** 0/1 per label */
  truth: Uint8Array;
  user: string;
  text: string;
  prompt: string;
}

export function truthBits(spec: TemplateSpec, labels: string[]): Uint8Array {
  const b = new Uint8Array(spec.labels.length);
  for (const l of labels) {
    const i = spec.labels.indexOf(l);
    if (i >= 0) b[i] = 1;
  }
  return b;
}

/**
 * Tokenized examples; LM settings append the target and EOS. Only the user's text is ever cut.
 * `chat` wraps the prompt as one user turn of the tokenizer's chat template (instruct models in
 * the Q settings); the template brings its own special tokens, so none are added.
 */
export function buildExamples(rows: (PreparedRow | PreparedShotRow)[], setting: Setting, spec: TemplateSpec, tok: TextTokenizer,
                              o: { maxLength?: number; withTarget?: boolean; chat?: (prompt: string) => string } = {}): { examples: Example[]; truncated: number } {
  const maxLength = o.maxLength ?? 512;
  let truncated = 0;
  const lm = setting === 'LM' || setting === 'LM-P';
  const examples = rows.map((r) => {
    const plain = (text: string) => renderPrompt(spec, setting, { text, user: r.annotator, examples: (r as PreparedShotRow).examples });
    const render = o.chat ? (text: string) => o.chat!(plain(text)) : plain;
    const target = lm && (o.withTarget ?? true) ? [...tok.encode(renderTarget(spec, r.labels), { addSpecialTokens: false }), ...(tok.eosId !== null ? [tok.eosId] : [])] : [];
    const { ids, truncated: cut } = encodeWithin(tok, render, r.text, maxLength, { reserve: target.length, addSpecialTokens: !o.chat });
    if (cut) truncated++;
    return { ids: [...ids, ...target], promptLength: ids.length, truth: truthBits(spec, r.labels), user: r.annotator, text: r.text, prompt: render(r.text) };
  });
  return { examples, truncated };
}

/** Batches of similar length (less padding): sort by length in seeded-shuffled windows, then shuffle the batches. */
export function bucketedBatches(examples: Example[], batchSize: number, seed: number): number[][] {
  const rng = new Rng(seed);
  const idx = shuffle(examples.map((_, i) => i), rng);
  const window = batchSize * 50, batches: number[][] = [];
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
      labels: examples.map((e) => { const t = e.ids.slice(e.promptLength); return [...t, ...new Array(Td - t.length).fill(-100)]; }),
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
