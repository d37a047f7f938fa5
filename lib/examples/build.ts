// Prepared rows → token examples for one setting (what training, evaluation and queries share).
import { renderPrompt, renderTarget, type Setting, type TemplateSpec } from '../prompts/templates.js';
import { encodeWithin, type TextTokenizer } from '../io/tokenizer.js';
import type { PreparedRow, PreparedShotRow } from '../data/output.js';

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
export function buildExamples(
  rows: (PreparedRow | PreparedShotRow)[],
  setting: Setting,
  spec: TemplateSpec,
  tok: TextTokenizer,
  o: { maxLength?: number; withTarget?: boolean; chat?: (prompt: string) => string } = {},
): { examples: Example[]; truncated: number } {
  const maxLength = o.maxLength ?? 512;
  let truncated = 0;
  const lm = setting === 'LM' || setting === 'LM-P';
  const examples = rows.map((r) => {
    const plain = (text: string) => renderPrompt(spec, setting, { text, user: r.annotator, examples: (r as PreparedShotRow).examples });
    const render = o.chat ? (text: string) => o.chat!(plain(text)) : plain;
    const target =
      lm && (o.withTarget ?? true)
        ? [...tok.encode(renderTarget(spec, r.labels), { addSpecialTokens: false }), ...(tok.eosId !== null ? [tok.eosId] : [])]
        : [];
    const { ids, truncated: cut } = encodeWithin(tok, render, r.text, maxLength, { reserve: target.length, addSpecialTokens: !o.chat });
    if (cut) truncated++;
    return {
      ids: [...ids, ...target],
      promptLength: ids.length,
      truth: truthBits(spec, r.labels),
      user: r.annotator,
      text: r.text,
      prompt: render(r.text),
    };
  });
  return { examples, truncated };
}
