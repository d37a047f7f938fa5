// Tokenizers from a model folder (tokenizer.json + tokenizer_config.json) through
// @huggingface/tokenizers, chat templates through @huggingface/jinja, and prompt encoding that
// truncates only inside the user's text.
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { ConfigError, FormatError } from '../errors.js';

export interface ChatMessage { role: 'system' | 'user' | 'assistant'; content: string }

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
    return opts.addSpecialTokens ?? true ? [this.bosId, ...b] : b;
  }
  decode(ids: number[]): string {
    return new TextDecoder().decode(Uint8Array.from(ids.filter((i) => i >= 3 && i < 259), (i) => i - 3));
  }
}

export class Tokenizer implements TextTokenizer {
  private tok: HFTokenizer;
  readonly config: Record<string, unknown>;

  constructor(readonly dir: string) {
    const tj = path.join(dir, 'tokenizer.json');
    if (!fs.existsSync(tj)) throw new FormatError(`${dir}: no tokenizer.json`);
    let json: object;
    try {
      json = JSON.parse(fs.readFileSync(tj, 'utf8'));
    } catch (e) {
      throw new FormatError(`${tj}: ${(e as Error).message}`);
    }
    const tc = path.join(dir, 'tokenizer_config.json');
    this.config = fs.existsSync(tc) ? JSON.parse(fs.readFileSync(tc, 'utf8')) : {};
    this.tok = new HFTokenizer(json, this.config);
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  /** Special tokens are skipped, as in the round trips of HF `decode(..., skip_special_tokens=True)`. */
  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    return ids.length ? this.tok.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? true }) : '';
  }

  tokenId(token: string | null): number | null {
    if (token === null) return null;
    const ids = this.tok.encode(token, { add_special_tokens: false }).ids;
    return ids.length === 1 ? ids[0] : null;
  }

  get bosToken(): string | null { return tokenString(this.config.bos_token); }
  get eosToken(): string | null { return tokenString(this.config.eos_token); }
  get padToken(): string | null { return tokenString(this.config.pad_token); }
  get eosId(): number | null { return this.tokenId(this.eosToken); }
  get bosId(): number | null { return this.tokenId(this.bosToken); }
  get padId(): number | null { return this.tokenId(this.padToken); }

  get hasChatTemplate(): boolean {
    const t = this.config.chat_template;
    return typeof t === 'string' || (Array.isArray(t) && t.some((x) => x?.name === 'default'));
  }

  /** Renders tokenizer_config.json's chat_template (instruct models in the Q settings). */
  applyChatTemplate(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    const t = this.config.chat_template;
    const src = typeof t === 'string' ? t : Array.isArray(t) ? (t.find((x) => x.name === 'default')?.template as string | undefined) : undefined;
    if (!src) throw new ConfigError(`${this.dir}: tokenizer_config.json has no chat_template (use the plain prompt)`);
    return new Template(src).render({
      messages, add_generation_prompt: opts.addGenerationPrompt ?? true,
      bos_token: this.bosToken ?? '', eos_token: this.eosToken ?? '', pad_token: this.padToken ?? '',
    });
  }
}

export function loadTokenizer(dir: string): Tokenizer {
  return new Tokenizer(dir);
}

/**
 * Token ids of render(text) within maxLength: when too long, only the user's text is cut (at a
 * token boundary), so the instruction, the label list and "### Response:" always survive.
 */
export function encodeWithin(tok: TextTokenizer, render: (text: string) => string, text: string, maxLength: number,
                             opts: { addSpecialTokens?: boolean; reserve?: number } = {}): { ids: number[]; truncated: boolean } {
  const limit = maxLength - (opts.reserve ?? 0);
  const full = tok.encode(render(text), opts);
  if (full.length <= limit) return { ids: full, truncated: false };
  const t = tok.encode(text, { addSpecialTokens: false });
  const fits = (k: number) => tok.encode(render(tok.decode(t.slice(0, k))), opts);
  if (fits(0).length > limit) throw new ConfigError(`the prompt without its text needs ${fits(0).length} tokens, more than ${limit}`);
  let lo = 0, hi = t.length;  // the largest k whose prompt fits
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (fits(mid).length <= limit) lo = mid;
    else hi = mid - 1;
  }
  return { ids: fits(lo), truncated: true };
}
