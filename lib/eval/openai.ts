// An OpenAI-compatible chat-completions client for the Q settings: key from an environment
// variable, a concurrency limit, retries with exponential backoff on 429/5xx (honouring
// Retry-After), a per-request timeout, and a JSONL cache so an interrupted run resumes.
import fs from 'node:fs';
import crypto from 'node:crypto';
import { ConfigError, PlfError } from '../errors.js';
import { io } from '../io/files.js';

export class EndpointError extends PlfError {}

export interface ChatClientOptions {
  endpoint: string; // base URL, e.g. http://localhost:8000/v1 (…/chat/completions is appended)
  model: string;
  apiKey?: string;
  concurrency?: number; // default 4
  retries?: number; // default 5
  timeoutMs?: number; // default 60 s
  backoffMs?: number; // first retry delay, doubled each time (default 1 s)
  maxTokens?: number;
  cacheFile?: string; // JSONL of {key, response}
}

interface CacheLine {
  key: string;
  response: string;
}

/** The endpoint as it may be printed: no user:password, query values hidden (keys travel there too). */
export function displayUrl(u: string): string {
  try {
    const url = new URL(u);
    url.username = url.username ? '***' : '';
    url.password = '';
    for (const k of [...url.searchParams.keys()]) url.searchParams.set(k, '***');
    return url.toString();
  } catch {
    return '<endpoint>';
  }
}

/** Removes secrets from a message: the key itself, and bearer tokens / key-shaped strings a server echoes. */
export function redact(text: string, secrets: (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('***');
  return out
    .replace(/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}/gi, '$1 ***')
    .replace(/\b(sk|pk|rk|ak|key|hf|ghp|xox[abp]?)[-_][A-Za-z0-9._-]{8,}/gi, '$1-***')
    .replace(/("?(?:api[_-]?key|authorization|access[_-]?token|secret|password|token)"?\s*[:=]\s*"?)[^"\s,}&]+/gi, '$1***');
}

/** The secrets a URL carries (user info, query values), to redact wherever they appear. */
function secretsOf(u: string): string[] {
  try {
    const url = new URL(u);
    return [url.username, url.password, ...url.searchParams.values()].filter((s) => s.length >= 4).map(decodeURIComponent);
  } catch {
    return [];
  }
}

/** Retry-After in ms (seconds or an HTTP date), 0 when absent or malformed. */
function retryAfterMs(v: string | null): number {
  if (!v) return 0;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : 0;
}

export class ChatClient {
  private cache = new Map<string, string>();
  private active = 0;
  private queue: (() => void)[] = [];
  readonly url: string;
  /** the URL as messages show it (see displayUrl) */
  readonly shownUrl: string;

  constructor(readonly o: ChatClientOptions) {
    if (!/^https?:\/\//.test(o.endpoint))
      throw new ConfigError(`endpoint ${redact(displayUrl(o.endpoint), [o.apiKey])} must be an http(s) URL`);
    // …/chat/completions appended to the path (a query, e.g. an api-version or key, stays a query)
    const u = new URL(o.endpoint);
    if (!u.pathname.endsWith('/chat/completions')) u.pathname = u.pathname.replace(/\/+$/, '') + '/chat/completions';
    this.url = u.toString();
    this.shownUrl = displayUrl(this.url);
    if (o.cacheFile && fs.existsSync(o.cacheFile))
      for (const line of fs.readFileSync(o.cacheFile, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const c = JSON.parse(line) as CacheLine;
          this.cache.set(c.key, c.response);
        } catch {
          /* a torn last line from a kill */
        }
      }
  }

  get cached(): number {
    return this.cache.size;
  }

  private key(prompt: string): string {
    return crypto
      .createHash('sha256')
      .update(JSON.stringify([this.o.model, this.o.maxTokens ?? null, prompt]))
      .digest('hex');
  }

  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= (this.o.concurrency ?? 4)) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }

  /** The assistant's reply to one user message (temperature 0). */
  async complete(prompt: string): Promise<string> {
    const key = this.key(prompt);
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const response = await this.slot(() => this.request(prompt));
    this.cache.set(key, response);
    const cache = this.o.cacheFile;
    if (cache) io('append to', cache, () => fs.appendFileSync(cache, JSON.stringify({ key, response } satisfies CacheLine) + '\n'));
    return response;
  }

  private async request(prompt: string): Promise<string> {
    const body = JSON.stringify({
      model: this.o.model,
      messages: [{ role: 'user', content: prompt }],
      temperature: 0,
      ...(this.o.maxTokens ? { max_tokens: this.o.maxTokens } : {}),
    });
    const retries = this.o.retries ?? 5;
    let delay = this.o.backoffMs ?? 1000,
      last = '',
      attempts = 0;
    for (let attempt = 0; attempt <= retries; attempt++) {
      attempts++;
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), this.o.timeoutMs ?? 60_000);
      let status = 0,
        text = '',
        retryAfter = 0;
      try {
        const res = await fetch(this.url, {
          method: 'POST',
          body,
          signal: ctl.signal,
          headers: { 'content-type': 'application/json', ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {}) },
        });
        status = res.status;
        retryAfter = retryAfterMs(res.headers.get('retry-after'));
        text = await res.text();
      } catch (e) {
        last = ctl.signal.aborted ? `timed out after ${this.o.timeoutMs ?? 60_000} ms` : String((e as Error).message);
        status = -1;
      } finally {
        clearTimeout(timer);
      }
      if (status === 200) {
        let json: { choices?: { message?: { content?: unknown } }[] };
        try {
          json = JSON.parse(text);
        } catch {
          throw this.error(`the response is not JSON: ${text.slice(0, 200)}`);
        }
        const content = json?.choices?.[0]?.message?.content;
        if (typeof content !== 'string') throw this.error(`no choices[0].message.content in ${text.slice(0, 200)}`);
        return content;
      }
      if (status !== -1) last = `HTTP ${status}: ${text.slice(0, 200)}`;
      const retryable = status === -1 || status === 429 || status >= 500;
      if (!retryable || attempt === retries) break;
      // a server's Retry-After is obeyed up to the request timeout, never longer
      await new Promise((r) => setTimeout(r, Math.min(Math.max(delay, retryAfter), this.o.timeoutMs ?? 60_000)));
      delay *= 2;
    }
    throw this.error(`${last} (after ${attempts} attempt${attempts > 1 ? 's' : ''})`);
  }

  /** An EndpointError with the URL shown safely and every secret redacted. */
  private error(msg: string): EndpointError {
    return new EndpointError(redact(`${this.shownUrl}: ${msg}`, [this.o.apiKey, ...secretsOf(this.o.endpoint)]));
  }
}
