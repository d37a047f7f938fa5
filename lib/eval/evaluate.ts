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

export function evaluate(
  model: Model,
  tok: TextTokenizer,
  examples: Example[],
  spec: TemplateSpec,
  o: { batchSize?: number; padId: number; onProgress?: (done: number) => void },
): EvalResult {
  const bs = o.batchSize ?? 8;
  const truth: Uint8Array[] = [],
    pred: Uint8Array[] = [],
    preds: Prediction[] = [];
  let lossSum = 0,
    lossN = 0,
    unknownWords = 0;
  const cls = model.task === 'sequence-classification';
  const maxNew = maxNewTokensFor(spec, tok);
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
        const p = Uint8Array.from({ length: L }, (_, j) => (lg[b * L + j] > 0 ? 1 : 0));
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
      const seqs = model.generate(collateLeft(part, o.padId), { maxNewTokens: maxNew, eosTokenId: tok.eosId, padTokenId: o.padId });
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
