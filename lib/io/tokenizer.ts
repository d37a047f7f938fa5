// Tokenizers from a model folder (tokenizer.json + tokenizer_config.json) through
// @huggingface/tokenizers, chat templates through @huggingface/jinja, and prompt encoding that
// truncates only inside the user's text.
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { ConfigError, FormatError, PlfError, brief } from '../errors.js';
import { BudgetError, withinBudget } from '../util/budget.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

/** What the trainer and evaluation need of a tokenizer. */
export interface TextTokenizer {
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
}

/** Bytes as tokens (ids 3…258; 0 pad, 1 bos, 2 eos): the demo's tokenizer, no files needed. */
export class ByteTokenizer implements TextTokenizer {
  readonly vocabSize = 259;
  readonly padId = 0;
  readonly bosId = 1;
  readonly eosId = 2;
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const b = Array.from(new TextEncoder().encode(text), (x) => x + 3);
    return (opts.addSpecialTokens ?? true) ? [this.bosId, ...b] : b;
  }
  decode(ids: number[]): string {
    return new TextDecoder().decode(
      Uint8Array.from(
        ids.filter((i) => i >= 3 && i < 259),
        (i) => i - 3,
      ),
    );
  }
}

/** Budgets for work a tokenizer's files control (see util/budget.ts). */
export const TOKENIZER_BUDGET = {
  /** building the tokenizer, and encoding or decoding one long text */
  ms: 2000,
  /** texts up to this many characters are encoded without the timer (a regex with nested
   * quantifiers, the exponential kind, is refused at load; the rest grow with the text's length) */
  plainChars: 4096,
  /** rendering the chat template once (real templates take well under a millisecond; the budget also
   * bounds memory: a `range(1e8)` is stopped after ~200 MB instead of taking 3 GB) */
  templateMs: 250,
  /** the longest prompt a chat template may render */
  templateChars: 1_000_000,
};

/**
 * The first regex with a quantified group that itself holds an unbounded quantifier (`(a+)+`,
 * `(\\s*x)*`): the patterns whose backtracking is exponential in the text's length.
 */
export function nestedQuantifier(pattern: string): boolean {
  const frames: { inner: boolean }[] = [{ inner: false }];
  const quantAt = (i: number): { len: number; unbounded: boolean } | null => {
    const c = pattern[i];
    if (c === '*' || c === '+') return { len: 1, unbounded: true };
    if (c === '?') return { len: 1, unbounded: false };
    if (c === '{') {
      const m = /^\{(\d*)(,?)(\d*)\}/.exec(pattern.slice(i));
      if (m) return { len: m[0].length, unbounded: m[2] === ',' ? m[3] === '' || Number(m[3]) > 1 : Number(m[1]) > 1 };
    }
    return null;
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    let atomEnd = i; // index of the atom's last character
    let group: { inner: boolean } | null = null;
    if (c === '\\') {
      atomEnd = i + 1;
    } else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      atomEnd = j;
    } else if (c === '(') {
      frames.push({ inner: false });
      continue;
    } else if (c === ')') {
      group = frames.length > 1 ? frames.pop()! : { inner: false };
    } else if (c === '|' || c === '^' || c === '$') continue;
    const q = quantAt(atomEnd + 1);
    const top = frames[frames.length - 1];
    if (group) {
      if (q?.unbounded && group.inner) return true;
      if (group.inner || q?.unbounded) top.inner = true;
    } else if (q?.unbounded) top.inner = true;
    i = atomEnd + (q ? q.len : 0);
  }
  return false;
}

/** Every regex a tokenizer.json holds (normalizers, pre-tokenizers: `{"Regex": "..."}`), with where. */
function regexes(v: unknown, where: string, out: { where: string; pattern: string }[] = [], depth = 0): typeof out {
  if (depth > 64 || typeof v !== 'object' || v === null) return out;
  for (const [k, x] of Object.entries(v)) {
    if (k === 'Regex' && typeof x === 'string') out.push({ where, pattern: x });
    else if (k !== 'vocab' && k !== 'merges' && k !== 'added_tokens') regexes(x, `${where}.${k}`, out, depth + 1);
  }
  return out;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FormatError(`${file}: ${(e as Error).message}`);
  }
}

export class Tokenizer implements TextTokenizer {
  private tok: HFTokenizer;
  readonly config: Record<string, unknown>;
  /** one more than the largest id of the vocabulary and the added tokens (a model's vocab_size for it) */
  readonly vocabSize: number;
  private readonly file: string;

  constructor(readonly dir: string) {
    const tj = path.join(dir, 'tokenizer.json');
    this.file = tj;
    if (!fs.existsSync(tj)) throw new FormatError(`${dir}: no tokenizer.json`);
    const json = readJson(tj);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FormatError(`${tj}: must hold a JSON object`);
    for (const r of regexes(json, 'tokenizer'))
      if (nestedQuantifier(r.pattern))
        throw new FormatError(
          `${tj}: ${r.where}: regex ${brief(r.pattern)} nests unbounded quantifiers (exponential backtracking); refused`,
        );
    const tc = path.join(dir, 'tokenizer_config.json');
    const config = fs.existsSync(tc) ? readJson(tc) : {};
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new FormatError(`${tc}: must hold a JSON object`);
    this.config = config as Record<string, unknown>;
    this.vocabSize = vocabSizeOf(json as Record<string, unknown>);
    // the library's own errors (a missing "model", a malformed vocab) become FormatErrors naming the file;
    // a probe encode/decode finds what only shows when the tokenizer runs
    this.tok = this.guard('load', () => {
      const t = new HFTokenizer(json as object, this.config);
      const ids = t.encode('Hello, world! 123 ünïcödé', { add_special_tokens: true }).ids;
      t.decode(ids, { skip_special_tokens: true });
      return t;
    });
  }

  /** Runs tokenizer work: under the time budget, library errors as FormatErrors naming tokenizer.json. */
  private guard<T>(what: string, fn: () => T, timed = true): T {
    try {
      return timed ? withinBudget(`${this.file}: ${what}`, TOKENIZER_BUDGET.ms, fn) : fn();
    } catch (e) {
      if (e instanceof PlfError) throw e;
      throw new FormatError(`${this.file}: ${what} failed (${(e as Error)?.message ?? String(e)})`);
    }
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.guard(
      'encode',
      () => this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids,
      text.length > TOKENIZER_BUDGET.plainChars,
    );
  }

  /** Special tokens are skipped, as in the round trips of HF `decode(..., skip_special_tokens=True)`. */
  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    return ids.length
      ? this.guard(
          'decode',
          () => this.tok.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? true }),
          ids.length > TOKENIZER_BUDGET.plainChars,
        )
      : '';
  }

  tokenId(token: string | null): number | null {
    if (token === null) return null;
    const ids = this.encode(token, { addSpecialTokens: false });
    return ids.length === 1 ? ids[0] : null;
  }

  get bosToken(): string | null {
    return tokenString(this.config.bos_token);
  }
  get eosToken(): string | null {
    return tokenString(this.config.eos_token);
  }
  get padToken(): string | null {
    return tokenString(this.config.pad_token);
  }
  get eosId(): number | null {
    return this.tokenId(this.eosToken);
  }
  get bosId(): number | null {
    return this.tokenId(this.bosToken);
  }
  get padId(): number | null {
    return this.tokenId(this.padToken);
  }

  get hasChatTemplate(): boolean {
    const t = this.config.chat_template;
    return typeof t === 'string' || (Array.isArray(t) && t.some((x) => x?.name === 'default'));
  }

  private template: Template | null = null;

  /** Renders tokenizer_config.json's chat_template (instruct models in the Q settings), within its budgets. */
  applyChatTemplate(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    const tc = path.join(this.dir, 'tokenizer_config.json');
    const t = this.config.chat_template;
    const src = typeof t === 'string' ? t : Array.isArray(t) ? (t.find((x) => x?.name === 'default')?.template as unknown) : undefined;
    if (typeof src !== 'string') throw new ConfigError(`${this.dir}: tokenizer_config.json has no chat_template (use the plain prompt)`);
    const B = TOKENIZER_BUDGET;
    let text: unknown;
    try {
      text = withinBudget(`${tc}: chat_template`, B.templateMs, () => {
        this.template ??= new Template(src);
        return this.template.render({
          messages,
          add_generation_prompt: opts.addGenerationPrompt ?? true,
          bos_token: this.bosToken ?? '',
          eos_token: this.eosToken ?? '',
          pad_token: this.padToken ?? '',
        });
      });
    } catch (e) {
      if (e instanceof PlfError) throw e;
      throw new ConfigError(`${tc}: chat_template: ${(e as Error)?.message ?? String(e)}`);
    }
    if (typeof text !== 'string') throw new ConfigError(`${tc}: chat_template did not render a string`);
    if (text.length > B.templateChars)
      throw new BudgetError(`${tc}: chat_template rendered ${text.length} characters, more than ${B.templateChars}`, 'PLF_BUDGET');
    return text;
  }
}

function vocabSizeOf(json: Record<string, unknown>): number {
  let max = -1;
  const model = json.model;
  const vocab = model && typeof model === 'object' ? (model as { vocab?: unknown }).vocab : undefined;
  if (Array.isArray(vocab))
    max = vocab.length - 1; // unigram: [piece, score] pairs
  else if (vocab && typeof vocab === 'object') for (const id of Object.values(vocab)) if (typeof id === 'number' && id > max) max = id;
  const added = json.added_tokens; // a hostile file may hold anything here
  if (Array.isArray(added)) for (const t of added as { id?: unknown }[]) if (typeof t?.id === 'number' && t.id > max) max = t.id;
  return max + 1;
}

export function loadTokenizer(dir: string): Tokenizer {
  return new Tokenizer(dir);
}

/**
 * Token ids of render(text) within maxLength: when too long, only the user's text is cut (at a
 * token boundary), so the instruction, the label list and "### Response:" always survive.
 */
export function encodeWithin(
  tok: TextTokenizer,
  render: (text: string) => string,
  text: string,
  maxLength: number,
  opts: { addSpecialTokens?: boolean; reserve?: number } = {},
): { ids: number[]; truncated: boolean } {
  const limit = maxLength - (opts.reserve ?? 0);
  const full = tok.encode(render(text), opts);
  if (full.length <= limit) return { ids: full, truncated: false };
  const t = tok.encode(text, { addSpecialTokens: false });
  const fits = (k: number) => tok.encode(render(tok.decode(t.slice(0, k))), opts);
  if (fits(0).length > limit) throw new ConfigError(`the prompt without its text needs ${fits(0).length} tokens, more than ${limit}`);
  let lo = 0,
    hi = t.length; // the largest k whose prompt fits
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (fits(mid).length <= limit) lo = mid;
    else hi = mid - 1;
  }
  return { ids: fits(lo), truncated: true };
}
