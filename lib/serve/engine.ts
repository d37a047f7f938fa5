// The served models in memory: one copy of each base (NF4 or as stored) shared by its runs, each
// run's LoRA adapter and head kept beside it and switched in per batch; classification and
// generation of a batch of rows. Runs in the server's worker thread (worker.ts): every call here
// blocks for as long as the native work takes.
import path from 'node:path';
import { ConfigError, PlfError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { Rng } from '../util/random.js';
import { ByteTokenizer, loadTokenizer, Tokenizer, type ChatMessage, type TextTokenizer } from '../io/tokenizer.js';
import { loadModel, DecoderModel } from '../models/load.js';
import type { Model } from '../models/model.js';
import type { LoraState } from '../models/layers.js';
import type { LoraConfig } from '../models/lora.js';
import { renderPrompt } from '../prompts/templates.js';
import { maxNewTokensFor } from '../eval/evaluate.js';
import { parseResponse } from '../eval/parse.js';
import type { ServedModel } from './models.js';

export interface ClassifyRow {
  text: string;
  user?: string;
}
export interface Classification {
  /** per label: sigmoid(logit) */
  scores: number[];
  /** per label: logit > 0 (evaluation's threshold) */
  predicted: boolean[];
  promptTokens: number;
}

export interface GenerateRow {
  messages: ChatMessage[];
  user?: string;
  /** default: a run's longest answer (evaluation's max_new_tokens), 256 for a base */
  maxTokens?: number;
  /** 0 or absent: greedy (evaluation's decoding); > 0: sampling from softmax(logits / temperature) */
  temperature?: number;
  /** nucleus sampling with temperature > 0 (default 1) */
  topP?: number;
  seed?: number;
  stop?: string[];
}
export interface Generation {
  text: string;
  finishReason: 'stop' | 'length' | 'cancelled';
  promptTokens: number;
  completionTokens: number;
  /** runs: the answer parsed into labels (evaluation's parser), and the words that name none */
  labels: string[] | null;
  unknown: string[] | null;
}

/** A row's outcome: its value, or an HTTP status and message (the row alone fails). */
export type RowResult<T> =
  { ok: true; value: T } | { ok: false; status: number; message: string; param: string | null; code: string | null };

export const MAX_TOKENS_CAP = 4096;

class RowError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null,
    readonly code: string | null,
  ) {
    super(message);
  }
}

/** What switches a shared model to one run: its LoRA per linear and its saved modules (the score head). */
interface Adapter {
  lora: LoraConfig | null;
  loras: (LoraState | null)[];
  saved: Tensor[];
}

interface Group {
  tok: TextTokenizer;
  pad: number;
  lm: Model | null;
  /** classifiers by label count (decoders: views over lm's body) */
  cls: Map<number, Model>;
  adapters: Map<string, Adapter>;
  active: string | null;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export class Engine implements Disposable {
  private groups = new Map<string, Group>();
  private byId = new Map<string, ServedModel>();

  constructor(readonly models: ServedModel[]) {
    try {
      for (const m of models) this.byId.set(m.id, m);
      for (const m of models) if (m.kind === 'base') this.lmOf(m, this.group(m));
      for (const m of models) if (m.kind === 'run') this.loadRun(m);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  private group(m: ServedModel): Group {
    let g = this.groups.get(m.group);
    if (g) return g;
    const tok: TextTokenizer = m.tokenizer === 'byte' ? new ByteTokenizer() : loadTokenizer(m.tokenizer);
    g = { tok, pad: tok.padId ?? tok.eosId ?? 0, lm: null, cls: new Map(), adapters: new Map(), active: null };
    this.groups.set(m.group, g);
    return g;
  }

  private load(m: ServedModel, g: Group, task: 'causal-lm' | 'sequence-classification', numLabels?: number): Model {
    const dir = m.fullWeights ? path.join(m.dir!, 'best') : m.base;
    const model = loadModel(dir, {
      task,
      numLabels,
      quantize: m.fullWeights ? null : m.quantize,
      device: m.device,
      activations: m.activations,
    });
    if (model.config.padTokenId === null) model.config.padTokenId = g.pad; // as training set it
    return model;
  }

  private lmOf(m: ServedModel, g: Group): Model {
    g.lm ??= this.load(m, g, 'causal-lm');
    return g.lm;
  }

  private clsOf(m: ServedModel, g: Group): Model {
    const n = m.template!.labels.length;
    let c = g.cls.get(n);
    if (!c) {
      const lm = m.fullWeights ? null : this.lmOf(m, g);
      c = lm instanceof DecoderModel ? lm.classifierView(n) : this.load(m, g, 'sequence-classification', n);
      g.cls.set(n, c);
    }
    return c;
  }

  private loadRun(m: ServedModel): void {
    const g = this.group(m);
    const model = m.task === 'classify' ? this.clsOf(m, g) : this.lmOf(m, g);
    if (m.fullWeights) return; // its own weights: nothing to switch
    detach(model);
    if (model instanceof DecoderModel && model.head.weightGrad) {
      model.head.weightGrad.dispose(); // addLora gives the head a fresh one (it marks the head as saved with the adapter)
      model.head.weightGrad = null;
    }
    try {
      model.loadAdapter(path.join(m.dir!, 'best'));
    } catch (e) {
      if (e instanceof PlfError) throw new ConfigError(`run '${m.id}' (${m.dir}): ${e.message}`);
      throw e;
    }
    // the saved modules (score head) are copied out: the next run's adapter loads into the same tensors
    const saved = model.modulesToSave().flatMap((s) => Object.values(s.tensors).map((t) => t.clone()));
    g.adapters.set(m.id, { lora: model.lora, loras: model.linears().map((l) => l.lora), saved });
    g.active = m.id;
  }

  /** The model that serves m, with m's adapter switched in. */
  private activate(m: ServedModel): { model: Model; g: Group } {
    const g = this.groups.get(m.group)!;
    const model = m.task === 'classify' ? this.clsOf(m, g) : this.lmOf(m, g);
    if (m.fullWeights || g.active === m.id) return { model, g };
    if (m.kind === 'base') {
      detach(model);
    } else {
      const a = g.adapters.get(m.id)!;
      model.linears().forEach((l, i) => (l.lora = a.loras[i]));
      model.lora = a.lora;
      const dst = model.modulesToSave().flatMap((s) => Object.values(s.tensors));
      dst.forEach((t, i) => t.copyFrom(a.saved[i]));
    }
    g.active = m.id;
    return { model, g };
  }

  private model(id: string): ServedModel {
    const m = this.byId.get(id);
    if (!m) throw new RowError(404, `The model '${id}' does not exist`, 'model', 'model_not_found');
    return m;
  }

  /** Prompt ids of one row, or a RowError (400) naming the limit. */
  private promptIds(m: ServedModel, g: Group, text: string, user: string | undefined, messages?: ChatMessage[]): number[] {
    let ids: number[];
    if (m.kind === 'base') {
      const tok = g.tok;
      // the base answers as the Q settings prompt it: the chat template when the tokenizer has one
      ids =
        tok instanceof Tokenizer && tok.hasChatTemplate && messages
          ? tok.encode(tok.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false })
          : tok.encode(text);
    } else {
      if (m.personal && !user)
        throw new RowError(400, `'${m.id}' is a ${m.setting} run: the request's 'user' must be the annotator id`, 'user', 'missing_user');
      ids = g.tok.encode(renderPrompt(m.template!, m.setting!, { text, user }));
    }
    if (ids.length > m.maxLength)
      throw new RowError(
        400,
        `the prompt is ${ids.length} tokens; '${m.id}' takes at most ${m.maxLength} (its max length)`,
        m.kind === 'base' ? 'messages' : 'input',
        'context_length_exceeded',
      );
    return ids;
  }

  classify(id: string, rows: ClassifyRow[]): RowResult<Classification>[] {
    return this.guarded(rows.length, () => {
      const m = this.model(id);
      if (m.task !== 'classify')
        throw new RowError(400, `'${id}' is not a classification run (use /v1/chat/completions)`, 'model', 'wrong_endpoint');
      const { model, g } = this.activate(m);
      const prompts = rows.map((r) => attempt(() => this.promptIds(m, g, r.text, r.user)));
      const ok = prompts.flatMap((p, i) => (p.ok ? [{ i, ids: p.value }] : []));
      const out: RowResult<Classification>[] = prompts.map((p) => (p.ok ? (null as never) : p));
      if (ok.length) {
        // right-padded, as evaluation batches them (the head reads the last non-pad token)
        const T = Math.max(...ok.map((r) => r.ids.length));
        const L = m.template!.labels.length;
        const { logits } = model.forward({
          inputIds: ok.map((r) => [...r.ids, ...new Array(T - r.ids.length).fill(g.pad)]),
          attentionMask: ok.map((r) => [...r.ids.map(() => 1), ...new Array(T - r.ids.length).fill(0)]),
        });
        const lg = logits.toFloat32();
        logits.dispose();
        ok.forEach((r, b) => {
          const row = Array.from(lg.subarray(b * L, (b + 1) * L));
          out[r.i] = { ok: true, value: { scores: row.map(sigmoid), predicted: row.map((x) => x > 0), promptTokens: r.ids.length } };
        });
      }
      return out;
    });
  }

  /**
   * Generates for every row at once (left-padded, one KV cache): greedy unless a row asks for a
   * temperature. onText gets each row's new text as it grows (held back while it ends inside a
   * UTF-8 character); a row stops at EOS, a stop string, its max tokens, or when cancelled(row).
   */
  generate(
    id: string,
    rows: GenerateRow[],
    hooks: { onText?: (row: number, delta: string) => void; cancelled?: (row: number) => boolean } = {},
  ): RowResult<Generation>[] {
    return this.guarded(rows.length, () => {
      const m = this.model(id);
      if (m.task !== 'generate')
        throw new RowError(400, `'${id}' is a classification run (use /v1/moderations)`, 'model', 'wrong_endpoint');
      const { model, g } = this.activate(m);
      const tok = g.tok;
      const lastUser = (r: GenerateRow) => [...r.messages].reverse().find((x) => x.role === 'user')?.content ?? '';
      const prompts = rows.map((r) => attempt(() => this.promptIds(m, g, lastUser(r), r.user, r.messages)));
      const out: RowResult<Generation>[] = prompts.map((p) => (p.ok ? (null as never) : p));
      const live = prompts.flatMap((p, i) => (p.ok ? [{ i, ids: p.value, r: rows[i] }] : []));
      if (!live.length) return out;
      const defaultMax = m.template ? maxNewTokensFor(m.template, tok) : 256;
      const state = live.map(({ r }) => ({
        max: Math.min(r.maxTokens ?? defaultMax, MAX_TOKENS_CAP),
        gen: [] as number[],
        shown: '',
        done: false,
        reason: 'length' as Generation['finishReason'],
        rng: r.temperature ? new Rng(r.seed ?? (Math.random() * 2 ** 32) >>> 0) : null,
      }));
      const T = Math.max(...live.map((x) => x.ids.length));
      const emit = (b: number, final: boolean) => {
        const s = state[b];
        let text = tok.decode(s.gen);
        for (const stop of live[b].r.stop ?? [])
          if (stop && text.includes(stop)) {
            text = text.slice(0, text.indexOf(stop));
            s.done = true;
            s.reason = 'stop';
          }
        // hold back an unfinished UTF-8 character, and text that may be the start of a stop string
        let show = final || s.done ? text : text.replace(/\uFFFD+$/, '');
        if (!final && !s.done)
          for (const stop of live[b].r.stop ?? [])
            for (let k = Math.min(stop.length - 1, show.length); k > 0; k--)
              if (show.endsWith(stop.slice(0, k))) {
                show = show.slice(0, show.length - k);
                break;
              }
        if (show.length > s.shown.length && show.startsWith(s.shown)) {
          hooks.onText?.(live[b].i, show.slice(s.shown.length));
          s.shown = show;
        }
        if (final || s.done) s.shown = text;
      };
      model.generate(
        {
          inputIds: live.map((x) => [...new Array(T - x.ids.length).fill(g.pad), ...x.ids]),
          attentionMask: live.map((x) => [...new Array(T - x.ids.length).fill(0), ...x.ids.map(() => 1)]),
        },
        {
          maxNewTokens: Math.max(...state.map((s) => s.max)),
          eosTokenId: tok.eosId,
          padTokenId: g.pad,
          // an all-greedy batch leaves the pick to generate: on CUDA the argmax runs on the device and
          // one id per row comes back instead of [B, V] logits (the same first-maximum rule as argmax)
          pick: state.some((s) => s.rng)
            ? (lg, b) => (state[b].rng ? sample(lg, live[b].r.temperature!, live[b].r.topP ?? 1, state[b].rng!) : argmax(lg))
            : undefined,
          onStep: (next, finished) => {
            next.forEach((t, b) => {
              const s = state[b];
              if (s.done) return;
              s.gen.push(t);
              if (tok.eosId !== null && t === tok.eosId) {
                s.done = true;
                s.reason = 'stop';
              }
              emit(b, false);
              if (!s.done && s.gen.length >= s.max) s.done = true; // reason stays 'length'
              if (!s.done && hooks.cancelled?.(live[b].i)) {
                s.done = true;
                s.reason = 'cancelled';
              }
              if (s.done) finished[b] = true;
            });
          },
        },
      );
      state.forEach((s, b) => {
        emit(b, true);
        const parsed = m.template ? parseResponse(s.shown, m.template.labels) : null;
        out[live[b].i] = {
          ok: true,
          value: {
            text: s.shown,
            finishReason: s.reason,
            promptTokens: live[b].ids.length,
            completionTokens: s.gen.length,
            labels: parsed ? m.template!.labels.filter((_, j) => parsed.labels[j]) : null,
            unknown: parsed ? parsed.unknown : null,
          },
        };
      });
      return out;
    });
  }

  /** Row errors stay rows; anything else fails every row (500, or the typed error's message). */
  private guarded<T>(n: number, fn: () => RowResult<T>[]): RowResult<T>[] {
    try {
      return fn();
    } catch (e) {
      const r = asRowError(e);
      return new Array(n).fill(r);
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    for (const g of this.groups.values()) {
      for (const a of g.adapters.values()) {
        a.saved.forEach((t) => t.dispose());
        for (const l of a.loras) for (const t of l ? [l.A, l.B, l.gradA, l.gradB] : []) t.dispose();
      }
      // the models' own LoRA references were the adapters' (just freed)
      for (const model of [...g.cls.values(), ...(g.lm ? [g.lm] : [])]) {
        if (g.adapters.size) model.linears().forEach((l) => (l.lora = null));
        model.dispose();
      }
    }
    this.groups.clear();
  }
}

/** No adapter: the base model as loaded (the score head of a view stays as it is). */
function detach(model: Model): void {
  for (const l of model.linears()) l.lora = null;
  model.lora = null;
}

function attempt<T>(fn: () => T): RowResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return asRowError(e);
  }
}

function asRowError(e: unknown): { ok: false; status: number; message: string; param: string | null; code: string | null } {
  if (e instanceof RowError) return { ok: false, status: e.status, message: e.message, param: e.param, code: e.code };
  const msg = e instanceof Error ? e.message : String(e);
  return { ok: false, status: 500, message: `${e instanceof PlfError ? e.name + ': ' : ''}${msg}`, param: null, code: 'internal_error' };
}

function argmax(lg: Float32Array): number {
  let best = 0;
  for (let v = 1; v < lg.length; v++) if (lg[v] > lg[best]) best = v;
  return best;
}

/** A token from softmax(logits / temperature), cut to the smallest set whose mass reaches topP. */
function sample(lg: Float32Array, temperature: number, topP: number, rng: Rng): number {
  let mx = -Infinity;
  for (const x of lg) mx = Math.max(mx, x);
  const p = new Float64Array(lg.length);
  let sum = 0;
  for (let v = 0; v < lg.length; v++) sum += p[v] = Math.exp((lg[v] - mx) / temperature);
  let order: number[] = [];
  if (topP < 1) {
    order = Array.from(p.keys()).sort((a, b) => p[b] - p[a] || a - b);
    let acc = 0,
      k = 0;
    while (k < order.length && acc < topP * sum) acc += p[order[k++]];
    order = order.slice(0, Math.max(1, k));
    sum = order.reduce((s, v) => s + p[v], 0);
  } else order = Array.from(p.keys());
  let u = rng.next() * sum;
  for (const v of order) if ((u -= p[v]) <= 0) return v;
  return order[order.length - 1];
}
