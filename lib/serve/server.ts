// An OpenAI-compatible server for trained runs: GET /v1/models, POST /v1/chat/completions (LM
// runs and bases; streaming), POST /v1/moderations (CLS runs, in OpenAI's classification shape),
// GET /health, GET /metrics. This thread parses, queues and answers; the models run in a worker
// thread (scheduler.ts, worker.ts). createServer gives the handler to mount in an existing app and
// Promise-returning classify/generate for code that embeds it.
import http from 'node:http';
import crypto from 'node:crypto';
import { ConfigError } from '../errors.js';
import { defaultOmpPolicy } from '../native/loader.js';
import type { ChatMessage } from '../io/tokenizer.js';
import { describeModels, type ServeModelOptions, type ServedModel } from './models.js';
import { Scheduler, ServeError, type SchedulerOptions } from './scheduler.js';
import { MAX_TOKENS_CAP, type Classification, type Generation, type GenerateRow, type RowResult } from './engine.js';
import { ServerMetrics } from './metrics.js';

export { ServeError };
export type { ServedModel, Classification, Generation };

export interface ServeOptions extends ServeModelOptions, SchedulerOptions {
  /** clients must send `Authorization: Bearer <apiKey>` to /v1/* (default: no key) */
  apiKey?: string;
  /** request bodies over this many bytes are refused with 413 (default 1 MiB) */
  maxBodyBytes?: number;
}

export interface ClassifyOptions {
  /** the annotator id (-P runs need it) */
  user?: string;
  signal?: AbortSignal;
}
export interface GenerateOptions extends ClassifyOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  /** the new text as it is generated */
  onText?: (delta: string) => void;
}

/** One classified input: per label, its probability and whether it is predicted (logit > 0). */
export interface ClassifyResult {
  labels: string[];
  scores: Record<string, number>;
  predicted: Record<string, boolean>;
}

export interface PlfServer extends AsyncDisposable {
  readonly models: ServedModel[];
  /** the request listener: http.createServer(server.handler), or mounted under an app's router */
  readonly handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** an http.Server on host:port (default 127.0.0.1:8080; port 0 picks a free one) */
  listen(port?: number, host?: string): Promise<http.Server>;
  classify(model: string, input: string | string[], o?: ClassifyOptions): Promise<ClassifyResult[]>;
  generate(model: string, input: string | ChatMessage[], o?: GenerateOptions): Promise<Generation>;
  /** the Prometheus text /metrics answers */
  metrics(): string;
  /** stops accepting, finishes what is queued and running, stops the model thread */
  close(): Promise<void>;
}

const ROUTES = new Set(['/v1/models', '/v1/chat/completions', '/v1/moderations', '/health', '/metrics']);

/** Loads every model in the worker thread; resolves when they are ready to serve. */
export async function createServer(o: ServeOptions): Promise<PlfServer> {
  const models = describeModels(o);
  if (o.apiKey !== undefined && o.apiKey.length < 8) throw new ConfigError('serve: the API key must be at least 8 characters');
  const maxBody = o.maxBodyBytes ?? 1 << 20;
  if (!Number.isInteger(maxBody) || maxBody < 1024) throw new ConfigError(`serve: maxBodyBytes must be an integer >= 1024, got ${maxBody}`);
  defaultOmpPolicy(); // the model thread's OpenMP reads the process environment, set here (a worker's env is a copy)
  const sched = new Scheduler(models, o);
  const byId = new Map(models.map((m) => [m.id, m]));
  const metrics = new ServerMetrics(
    () => sched.depth,
    () => sched.inflight,
  );
  sched.onBatch = (b) => {
    metrics.batchSize.observe(b.rows, { kind: b.kind });
    let gen = 0,
      prompt = 0;
    for (const r of b.results)
      if (r.ok) {
        const v = r.value as Partial<Generation> & Classification;
        gen += v.completionTokens ?? 0;
        prompt += v.promptTokens;
      }
    metrics.promptTokens.inc({}, prompt);
    if (b.kind === 'generate') metrics.generationBatch(gen, b.ms);
  };
  try {
    await sched.ready;
  } catch (e) {
    await sched.close();
    throw e;
  }
  const keyHash = o.apiKey === undefined ? null : crypto.createHash('sha256').update(o.apiKey).digest();
  let draining = false;
  const servers = new Set<http.Server>();

  const model = (id: unknown, task: 'classify' | 'generate'): ServedModel => {
    if (typeof id !== 'string' || !id)
      throw new ServeError(
        "'model' must be a model id (GET /v1/models lists them)",
        400,
        'invalid_request_error',
        'model',
        'missing_model',
      );
    const m = byId.get(id);
    if (!m)
      throw new ServeError(
        `The model '${id}' does not exist (served: ${models.map((x) => x.id).join(', ')})`,
        404,
        'invalid_request_error',
        'model',
        'model_not_found',
      );
    if (m.task !== task)
      throw new ServeError(
        task === 'classify'
          ? `'${id}' generates text: use POST /v1/chat/completions`
          : `'${id}' is a classification run: use POST /v1/moderations`,
        400,
        'invalid_request_error',
        'model',
        'wrong_endpoint',
      );
    return m;
  };
  const needUser = (m: ServedModel, user: unknown) => {
    if (user !== undefined && typeof user !== 'string') throw bad("'user' must be a string", 'user');
    if (m.personal && !user)
      throw new ServeError(
        `'${m.id}' is a ${m.setting} run: 'user' must carry the annotator id`,
        400,
        'invalid_request_error',
        'user',
        'missing_user',
      );
    return user as string | undefined;
  };
  const unwrap = <T>(r: RowResult<T>): T => {
    if (r.ok) return r.value;
    throw new ServeError(r.message, r.status, r.status >= 500 ? 'server_error' : 'invalid_request_error', r.param, r.code);
  };

  async function classifyRows(m: ServedModel, input: string[], user: string | undefined, signal?: AbortSignal): Promise<Classification[]> {
    const rows = input.map((text) => ({ text, user }));
    const results = await Promise.all(sched.submit<Classification>('classify', m.id, rows, { signal }));
    return results.map(unwrap);
  }

  function generateRow(
    m: ServedModel,
    row: GenerateRow,
    o: { stream?: boolean; onText?: (d: string) => void; signal?: AbortSignal },
  ): Promise<Generation> {
    return sched.submit<Generation>('generate', m.id, [row], o)[0].then(unwrap);
  }

  const asResult = (m: ServedModel, c: Classification): ClassifyResult => {
    const labels = m.template!.labels;
    return {
      labels: labels.filter((_, i) => c.predicted[i]),
      scores: Object.fromEntries(labels.map((l, i) => [l, c.scores[i]])),
      predicted: Object.fromEntries(labels.map((l, i) => [l, c.predicted[i]])),
    };
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const route =
      ROUTES.has(url.pathname) || url.pathname.startsWith('/v1/models/')
        ? url.pathname.replace(/^\/v1\/models\/.*/, '/v1/models/{id}')
        : 'other';
    const t0 = performance.now();
    res.once('close', () => {
      metrics.requests.inc({ route, status: String(res.statusCode) });
      metrics.latency.observe((performance.now() - t0) / 1000, { route });
    });
    if (url.pathname === '/health' && req.method === 'GET')
      return json(res, draining ? 503 : 200, {
        status: draining ? 'draining' : 'ok',
        models: models.map((m) => m.id),
        queue: sched.depth,
        running: sched.inflight,
      });
    if (url.pathname === '/metrics' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      return void res.end(metrics.render());
    }
    if (!url.pathname.startsWith('/v1/'))
      throw new ServeError(`no route ${req.method} ${url.pathname}`, 404, 'invalid_request_error', null, 'not_found');
    if (keyHash) {
      const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
      const given = crypto
        .createHash('sha256')
        .update(m ? m[1].trim() : '')
        .digest();
      if (!m || !crypto.timingSafeEqual(given, keyHash))
        throw new ServeError(
          m ? 'Incorrect API key provided' : "You didn't provide an API key (Authorization: Bearer …)",
          401,
          'invalid_request_error',
          null,
          'invalid_api_key',
        );
    }
    if (draining) {
      res.setHeader('connection', 'close');
      throw new ServeError('the server is shutting down', 503, 'server_error', null, 'unavailable');
    }
    if (req.method === 'GET' && url.pathname === '/v1/models') return json(res, 200, { object: 'list', data: models.map(describe) });
    if (req.method === 'GET' && url.pathname.startsWith('/v1/models/')) {
      const id = decodeURIComponent(url.pathname.slice('/v1/models/'.length));
      const m = byId.get(id);
      if (!m) throw new ServeError(`The model '${id}' does not exist`, 404, 'invalid_request_error', 'model', 'model_not_found');
      return json(res, 200, describe(m));
    }
    const post = url.pathname === '/v1/chat/completions' || url.pathname === '/v1/moderations';
    if (!post) throw new ServeError(`no route ${req.method} ${url.pathname}`, 404, 'invalid_request_error', null, 'not_found');
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      throw new ServeError(`${url.pathname} takes POST`, 405, 'invalid_request_error', null, 'method_not_allowed');
    }
    const body = await readJson(req, res, maxBody);
    // a client that goes away cancels its rows (waiting ones at once, a generation at its next step)
    const ctl = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) ctl.abort();
    });
    if (url.pathname === '/v1/moderations') return moderations(body, res, ctl.signal);
    return chat(body, res, ctl.signal);
  }

  async function moderations(body: Record<string, unknown>, res: http.ServerResponse, signal: AbortSignal): Promise<void> {
    const m = model(body.model, 'classify');
    const user = needUser(m, body.user);
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    if (!Array.isArray(input) || !input.length || !input.every((x) => typeof x === 'string'))
      throw bad("'input' must be a string or a non-empty array of strings", 'input');
    const results = await classifyRows(m, input as string[], user, signal);
    json(res, 200, {
      id: `modr-${crypto.randomUUID()}`,
      model: m.id,
      results: results.map((c) => {
        const r = asResult(m, c);
        return { flagged: r.labels.length > 0, categories: r.predicted, category_scores: r.scores };
      }),
      usage: { prompt_tokens: results.reduce((s, c) => s + c.promptTokens, 0) },
    });
  }

  async function chat(body: Record<string, unknown>, res: http.ServerResponse, signal: AbortSignal): Promise<void> {
    const m = model(body.model, 'generate');
    const user = needUser(m, body.user);
    const row = generateRequest(body, user);
    const stream = body.stream === true;
    if (body.stream !== undefined && typeof body.stream !== 'boolean') throw bad("'stream' must be a boolean", 'stream');
    const id = `chatcmpl-${crypto.randomUUID()}`,
      created = Math.floor(Date.now() / 1000);
    const head = { id, created, model: m.id, system_fingerprint: null };
    if (!stream) {
      const g = await generateRow(m, row, { signal });
      return json(res, 200, {
        ...head,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: g.text, refusal: null }, logprobs: null, finish_reason: finish(g) }],
        usage: usage(g),
        ...(g.labels ? { labels: g.labels, unknown_words: g.unknown } : {}),
      });
    }
    // headers go out with the first text: an error before it is still a plain JSON error
    const chunk = (delta: Record<string, unknown>, finishReason: string | null, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }], ...extra })}\n\n`;
    const open = () => {
      if (res.headersSent) return;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(chunk({ role: 'assistant', content: '' }, null));
    };
    const g = await generateRow(m, row, {
      stream: true,
      signal,
      onText: (d) => {
        open();
        res.write(chunk({ content: d }, null));
      },
    });
    open();
    res.write(chunk({}, finish(g), g.labels ? { labels: g.labels, unknown_words: g.unknown } : {}));
    const so = body.stream_options as { include_usage?: unknown } | undefined;
    if (so?.include_usage === true)
      res.write(`data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', choices: [], usage: usage(g) })}\n\n`);
    res.end('data: [DONE]\n\n');
  }

  function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
    handle(req, res).catch((e) => {
      if (res.headersSent) {
        // mid-stream: OpenAI's clients read an error event
        if (!res.writableEnded) res.end(`data: ${JSON.stringify({ error: errorBody(e).error })}\n\n`);
        return;
      }
      const s = e instanceof ServeError ? e.status : 500;
      if (e instanceof ServeError && e.retryAfter !== undefined) res.setHeader('retry-after', String(e.retryAfter));
      json(res, s, errorBody(e));
    });
  }

  async function close(): Promise<void> {
    if (draining) return sched.idle();
    draining = true;
    const closing = [...servers].map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const s of servers) s.closeIdleConnections();
    await sched.idle();
    for (const s of servers) s.closeIdleConnections();
    await sched.close();
    // connections still open (a keep-alive client that sends nothing) do not hold the exit up
    setTimeout(() => servers.forEach((s) => s.closeAllConnections()), 1000).unref();
    await Promise.all(closing);
  }

  const server: PlfServer = {
    models,
    handler,
    async listen(port = 8080, host = '127.0.0.1') {
      const s = http.createServer(handler);
      s.keepAliveTimeout = 5000;
      servers.add(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      s.once('close', () => servers.delete(s));
      return s;
    },
    async classify(id, input, co = {}) {
      const m = model(id, 'classify');
      const texts = typeof input === 'string' ? [input] : input;
      if (!Array.isArray(texts) || !texts.length || !texts.every((x) => typeof x === 'string'))
        throw bad('classify: input must be a string or a non-empty array of strings', 'input');
      const rs = await classifyRows(m, texts, needUser(m, co.user), co.signal);
      if (co.signal?.aborted) throw abortError(co.signal);
      return rs.map((c) => asResult(m, c));
    },
    async generate(id, input, go = {}) {
      const m = model(id, 'generate');
      const messages = typeof input === 'string' ? [{ role: 'user', content: input }] : input;
      const row = generateRequest(
        { messages, max_tokens: go.maxTokens, temperature: go.temperature, top_p: go.topP, seed: go.seed, stop: go.stop },
        needUser(m, go.user),
      );
      const g = await generateRow(m, row, { stream: !!go.onText, onText: go.onText, signal: go.signal });
      if (go.signal?.aborted) throw abortError(go.signal);
      return g;
    },
    metrics: () => metrics.render(),
    close,
    [Symbol.asyncDispose]: close,
  };
  return server;
}

function describe(m: ServedModel) {
  return {
    id: m.id,
    object: 'model',
    created: m.created,
    owned_by: 'plf-native',
    kind: m.kind,
    setting: m.setting,
    endpoint: m.task === 'classify' ? '/v1/moderations' : '/v1/chat/completions',
    labels: m.template?.labels ?? null,
    max_length: m.maxLength,
    needs_user: m.personal,
  };
}

const bad = (message: string, param: string | null = null) => new ServeError(message, 400, 'invalid_request_error', param, 'invalid_value');

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('This operation was aborted', 'AbortError');
}

/** A chat request's fields, checked (OpenAI's names); content parts of type text are joined. */
function generateRequest(b: Record<string, unknown>, user: string | undefined): GenerateRow {
  const msgs = b.messages;
  if (!Array.isArray(msgs) || !msgs.length) throw bad("'messages' must be a non-empty array", 'messages');
  const messages: ChatMessage[] = msgs.map((x, i) => {
    const role = (x as { role?: unknown })?.role;
    if (!['system', 'developer', 'user', 'assistant'].includes(role as string))
      throw bad(`messages[${i}].role must be system, developer, user or assistant`, `messages[${i}].role`);
    let content = (x as { content?: unknown }).content;
    if (Array.isArray(content)) {
      if (!content.every((p) => p?.type === 'text' && typeof p.text === 'string'))
        throw bad(`messages[${i}].content: only text parts are supported`, `messages[${i}].content`);
      content = content.map((p) => p.text).join('');
    }
    if (typeof content !== 'string') throw bad(`messages[${i}].content must be a string`, `messages[${i}].content`);
    return { role: role === 'developer' ? 'system' : (role as ChatMessage['role']), content };
  });
  if (!messages.some((x) => x.role === 'user')) throw bad("'messages' must hold a user message (its text is what is judged)", 'messages');
  const int = (k: string, lo: number, hi: number) => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) throw bad(`'${k}' must be an integer in ${lo}…${hi}`, k);
    return v as number;
  };
  const num = (k: string, lo: number, hi: number) => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !(v >= lo && v <= hi)) throw bad(`'${k}' must be a number in ${lo}…${hi}`, k);
    return v;
  };
  const n = int('n', 1, 1);
  void n;
  if (b.tools !== undefined || b.functions !== undefined) throw bad('tools and functions are not supported', 'tools');
  if (b.logprobs === true) throw bad('logprobs are not supported', 'logprobs');
  const stop = b.stop === undefined || b.stop === null ? [] : typeof b.stop === 'string' ? [b.stop] : b.stop;
  if (!Array.isArray(stop) || stop.length > 4 || !stop.every((s) => typeof s === 'string' && s.length > 0))
    throw bad("'stop' must be a string or up to 4 non-empty strings", 'stop');
  const temperature = num('temperature', 0, 2);
  const topP = num('top_p', 0, 1);
  if (topP === 0) throw bad("'top_p' must be greater than 0", 'top_p');
  return {
    messages,
    user,
    maxTokens: int('max_completion_tokens', 1, MAX_TOKENS_CAP) ?? int('max_tokens', 1, MAX_TOKENS_CAP),
    temperature,
    topP,
    seed: int('seed', -(2 ** 53), 2 ** 53),
    stop: stop as string[],
  };
}

const finish = (g: Generation) => (g.finishReason === 'length' ? 'length' : 'stop');
const usage = (g: Generation) => ({
  prompt_tokens: g.promptTokens,
  completion_tokens: g.completionTokens,
  total_tokens: g.promptTokens + g.completionTokens,
});

function errorBody(e: unknown): { error: { message: string; type: string; param: string | null; code: string | null } } {
  if (e instanceof ServeError) return { error: { message: e.message, type: e.type, param: e.param, code: e.apiCode } };
  return {
    error: { message: `internal error: ${(e as Error)?.message ?? String(e)}`, type: 'server_error', param: null, code: 'internal_error' },
  };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The body as a JSON object: 413 over the cap (before reading it when content-length says so), 400 when malformed. */
function readJson(req: http.IncomingMessage, res: http.ServerResponse, cap: number): Promise<Record<string, unknown>> {
  const tooLarge = () => {
    res.setHeader('connection', 'close'); // the rest of the body is not read
    return new ServeError(`the request body is over ${cap} bytes`, 413, 'invalid_request_error', null, 'request_too_large');
  };
  if (Number(req.headers['content-length'] ?? 0) > cap) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > cap) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
      } else chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      let v: unknown;
      try {
        v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        return reject(
          new ServeError(`the body is not valid JSON: ${(e as Error).message}`, 400, 'invalid_request_error', null, 'invalid_json'),
        );
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        return reject(new ServeError('the body must be a JSON object', 400, 'invalid_request_error', null, 'invalid_json'));
      resolve(v as Record<string, unknown>);
    });
  });
}
