// Evaluation: CLS from logits (> 0), LM/Q by greedy generation parsed as a comma list; metrics
// and per-row predictions.
import type { Model } from '../models/model.js';
import type { TemplateSpec } from '../prompts/templates.js';
import type { TextTokenizer } from '../io/tokenizer.js';
import { collate, collateLeft } from '../examples/batches.js';
import { type Example } from '../examples/build.js';
import { parseResponse } from './parse.js';
import { multilabelMetrics, type Metrics } from './metrics.js';

export interface Prediction {
  user: string;
  text: string;
  response: string;
  predicted: string[];
  truth: string[];
  unknown: string[];
}
export interface EvalResult {
  metrics: Metrics;
  loss: number | null;
  unknownWords: number;
  predictions: Prediction[];
}

const names = (spec: TemplateSpec, b: Uint8Array) => spec.labels.filter((_, i) => b[i]);

/** max_new_tokens for LM evaluation: the token length of all labels joined (the longest possible answer). */
export function maxNewTokensFor(spec: TemplateSpec, tok: TextTokenizer): number {
  return tok.encode(' ' + spec.labels.join(', '), { addSpecialTokens: false }).length + 1;
}

/** onStep for generate(): finish row b at a newline once it has produced a non-blank token. */
function stopAfterFirstLine(tok: TextTokenizer, newline: Set<number>, rows: number) {
  const seen = new Array<boolean>(rows).fill(false);
  const blank = new Map<number, boolean>();
  return (next: number[], finished: boolean[]) =>
    next.forEach((t, b) => {
      if (finished[b]) return;
      if (newline.has(t)) {
        if (seen[b]) finished[b] = true;
        return;
      }
      if (!blank.has(t)) blank.set(t, tok.decode([t]).trim() === '');
      if (!blank.get(t)) seen[b] = true;
    });
}

export function evaluate(
  model: Model,
  tok: TextTokenizer,
  examples: Example[],
  spec: TemplateSpec,
  o: {
    batchSize?: number;
    padId: number;
    onProgress?: (done: number) => void;
    /** CLS: a probability threshold per label (default 0.5 for every label: logit > 0, the paper's) */
    thresholds?: number[];
    /** CLS: every row's probabilities, in order (threshold tuning reads them) */
    onProbabilities?: (p: Float32Array[]) => void;
    /** CLS: every row's logits, in order (metrics at other thresholds without another pass: clsMetricsAt) */
    onLogits?: (l: Float32Array[]) => void;
    /**
     * generation: a row ends at the newline after its first non-blank line. The parser reads only
     * that line, so the metrics are the same as without it; a small base that rarely says EOS no
     * longer decodes to max_new_tokens (the response text in predictions.jsonl ends there).
     */
    stopAtNewline?: boolean;
  },
): EvalResult {
  const probs: Float32Array[] = [],
    logitRows: Float32Array[] = [];
  const cut = logitCuts(spec.labels.length, o.thresholds);
  const bs = o.batchSize ?? 8;
  const truth: Uint8Array[] = [],
    pred: Uint8Array[] = [],
    preds: Prediction[] = [];
  let lossSum = 0,
    lossN = 0,
    unknownWords = 0;
  const cls = model.task === 'sequence-classification';
  const maxNew = maxNewTokensFor(spec, tok);
  // the ids that are a newline and nothing else (a tokenizer may also merge it into other tokens: those do not stop)
  const newline = new Set(o.stopAtNewline ? tok.encode('\n', { addSpecialTokens: false }).filter((id) => tok.decode([id]) === '\n') : []);
  for (let i = 0; i < examples.length; i += bs) {
    const part = examples.slice(i, i + bs);
    if (cls) {
      const { logits, loss } = model.forward(collate(part, o.padId, 'cls', spec.labels.length));
      const lg = logits.toFloat32(),
        L = spec.labels.length;
      logits.dispose();
      lossSum += loss! * part.length;
      lossN += part.length;
      part.forEach((e, b) => {
        const p = Uint8Array.from({ length: L }, (_, j) => (lg[b * L + j] > cut[j] ? 1 : 0));
        if (o.onProbabilities) probs.push(Float32Array.from({ length: L }, (_, j) => 1 / (1 + Math.exp(-lg[b * L + j]))));
        if (o.onLogits) logitRows.push(lg.slice(b * L, (b + 1) * L));
        truth.push(e.truth);
        pred.push(p);
        preds.push({ user: e.user, text: e.text, response: '', predicted: names(spec, p), truth: names(spec, e.truth), unknown: [] });
      });
    } else {
      if (part.some((e) => e.ids.length > e.promptLength)) {
        // teacher-forced loss when targets are present
        const { logits, loss } = model.forward(collate(part, o.padId, model.isEncoderDecoder ? 'seq2seq' : 'lm', 0));
        logits.dispose();
        lossSum += loss! * part.length;
        lossN += part.length;
      }
      const seqs = model.generate(collateLeft(part, o.padId), {
        maxNewTokens: maxNew,
        eosTokenId: tok.eosId,
        padTokenId: o.padId,
        onStep: newline.size ? stopAfterFirstLine(tok, newline, part.length) : undefined,
      });
      part.forEach((e, b) => {
        const T = Math.max(...part.map((x) => x.promptLength));
        // decoder-only rows continue the prompt; encoder-decoder rows start with the decoder start token
        const response = tok.decode(model.isEncoderDecoder ? seqs[b].slice(1) : seqs[b].slice(T));
        const parsed = parseResponse(response, spec.labels);
        unknownWords += parsed.unknown.length;
        truth.push(e.truth);
        pred.push(parsed.labels);
        preds.push({
          user: e.user,
          text: e.text,
          response,
          predicted: names(spec, parsed.labels),
          truth: names(spec, e.truth),
          unknown: parsed.unknown,
        });
      });
    }
    o.onProgress?.(Math.min(examples.length, i + bs));
  }
  if (cls) o.onProbabilities?.(probs);
  if (cls) o.onLogits?.(logitRows);
  return {
    metrics: multilabelMetrics(
      spec.labels,
      truth,
      pred,
      examples.map((e) => e.user),
    ),
    loss: lossN ? lossSum / lossN : null,
    unknownWords,
    predictions: preds,
  };
}

/** The logit each label's probability threshold corresponds to: sigmoid(x) > t  ⇔  x > logit(t). */
function logitCuts(L: number, thresholds?: number[]): number[] {
  return Array.from({ length: L }, (_, j) => {
    const t = thresholds?.[j] ?? 0.5;
    return Math.log(t / (1 - t));
  });
}

/** CLS metrics of rows' logits at per-label thresholds: what evaluate() gives with `thresholds`, without a forward pass. */
export function clsMetricsAt(labels: string[], logits: Float32Array[], examples: Example[], thresholds: number[]): EvalResult['metrics'] {
  const cut = logitCuts(labels.length, thresholds);
  const pred = logits.map((lg) => Uint8Array.from(lg, (x, j) => (x > cut[j] ? 1 : 0)));
  return multilabelMetrics(
    labels,
    examples.map((e) => e.truth),
    pred,
    examples.map((e) => e.user),
  );
}

/**
 * Per-label probability thresholds that maximise each label's F1 on a validation set (a grid of
 * 0.05 … 0.95; ties keep the one nearest 0.5). For rare labels that a 0.5 threshold never predicts.
 */
export function tuneThresholds(probs: Float32Array[], truth: Uint8Array[]): number[] {
  const L = truth[0]?.length ?? 0;
  const grid = Array.from({ length: 19 }, (_, i) => 0.05 * (i + 1));
  return Array.from({ length: L }, (_, j) => {
    let best = 0.5,
      bestF1 = -1;
    for (const t of grid) {
      let tp = 0,
        fp = 0,
        fn = 0;
      probs.forEach((p, r) => {
        const y = truth[r][j] === 1,
          yh = p[j] > t;
        if (yh && y) tp++;
        else if (yh) fp++;
        else if (y) fn++;
      });
      const f1 = tp ? (2 * tp) / (2 * tp + fp + fn) : 0;
      if (f1 > bestF1 + 1e-12 || (Math.abs(f1 - bestF1) <= 1e-12 && Math.abs(t - 0.5) < Math.abs(best - 0.5))) {
        bestF1 = f1;
        best = t;
      }
    }
    return Number(best.toFixed(2));
  });
}
