// The fuzz targets: each builds its seed files once (setup) and runs one mutated input per case.
// A case passes when it is accepted or refused with a typed error (a PlfError; from the addon, a
// PLF_* code) whose message names the case's folder; anything else is a finding.
import fs from 'node:fs';
import path from 'node:path';
import type { Rng } from '../../lib/util/random.js';
import { int, pick, mutateBytes, mutateJson } from './mutate.js';
import { Tensor } from '../../lib/tensor.js';
import { addon } from '../../lib/native/addon.js';
import { FormatError, rethrowNative } from '../../lib/errors.js';
import { writeSafetensors } from '../../lib/io/safetensors.js';
import { openSafetensors, readTensor } from '../../lib/io/safetensors.js';
import { loadModel } from '../../lib/models/load.js';
import { type Model } from '../../lib/models/model.js';
import { writeRandomLlama } from '../../lib/models/random.js';
import { Tokenizer } from '../../lib/io/tokenizer.js';
import { readCustom } from '../../lib/data/datasets.js';
import { loadPrepared } from '../../lib/data/output.js';
import { runPrepare } from '../../lib/data/run.js';
import { AdamW } from '../../lib/ops/optim.js';
import { saveCheckpoint, loadCheckpoint, findCheckpoint } from '../../lib/train/checkpoint.js';

export interface Target {
  name: string;
  /** 'parser': errors must name the case folder; 'native': errors must carry a PLF_* code */
  kind: 'parser' | 'native';
  setup(base: string): Promise<unknown>;
  run(r: Rng, seed: unknown, dir: string): Promise<void> | void;
}

/** JSON text that may hold nesting deeper than JSON.stringify can walk (mutate.ts's deep values). */
export function toJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return `[${'['.repeat(20000)}1${']'.repeat(20000)}]`;
  }
}

const TINY = { hidden: 16, layers: 2, heads: 2, kvHeads: 1, intermediate: 24, vocab: 40 };
const write = (dir: string, name: string, data: string | Uint8Array) => fs.writeFileSync(path.join(dir, name), data);
const link = (from: string, dir: string, name: string) => fs.copyFileSync(from, path.join(dir, name));

function forward(m: Model): void {
  const r = m.forward({
    inputIds: [[1, 5, 7, 3]],
    attentionMask: [[1, 1, 1, 1]],
    ...(m.isEncoderDecoder ? { decoderInputIds: [[0, 1]] } : {}),
  });
  r.logits.dispose();
}

const tokenizerJson = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [0, 1, 2].map((id) => ({
    id,
    content: ['[UNK]', '[CLS]', '[SEP]'][id],
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  })),
  normalizer: {
    type: 'Sequence',
    normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }],
  },
  pre_tokenizer: {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: '\\p{L}+|\\p{N}|[^\\s\\p{L}\\p{N}]+' }, behavior: 'Isolated', invert: false },
      { type: 'Whitespace' },
    ],
  },
  post_processor: {
    type: 'TemplateProcessing',
    single: [
      { SpecialToken: { id: '[CLS]', type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: '[SEP]', type_id: 0 } },
    ],
    pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '[CLS]': { id: '[CLS]', ids: [1], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [2], tokens: ['[SEP]'] } },
  },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: {
    type: 'WordPiece',
    unk_token: '[UNK]',
    continuing_subword_prefix: '##',
    max_input_chars_per_word: 100,
    vocab: Object.fromEntries(
      ['[UNK]', '[CLS]', '[SEP]', 'hello', 'world', '!', ',', '1', '2', '3', 'un', '##ic', '##od', '##e', 'joy', 'anger', 'user'].map(
        (w, i) => [w, i],
      ),
    ),
  },
};
const tokenizerConfig = {
  bos_token: '[CLS]',
  eos_token: '[SEP]',
  pad_token: '[UNK]',
  chat_template:
    "{% for m in messages %}{{ bos_token }}{{ m['role'] }}: {{ m['content'] }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}",
};

const csvText =
  'id,annotator,text,labels\n' +
  Array.from(
    { length: 24 },
    (_, i) => `c${i % 8},a${i % 3},"text ${i}, with ""quotes""\nand a line",${['joy', 'anger', 'joy,anger'][i % 3]}`,
  ).join('\n') +
  '\n';

export const TARGETS: Target[] = [
  {
    name: 'safetensors',
    kind: 'parser',
    async setup(base) {
      const f = path.join(base, 'seed.safetensors');
      writeSafetensors(
        f,
        {
          a: Tensor.from(new Float32Array(12).fill(1.5), [3, 4]),
          b: Tensor.from(new Float32Array(5), [5], { dtype: 'bf16' }),
          c: Tensor.from(new BigInt64Array([1n, 2n]), [2]),
          d: Tensor.from(new Uint8Array(7), [7]),
        },
        { format: 'pt' },
      );
      const b = fs.readFileSync(f);
      return { bytes: b, hot: 8 + Number(b.readBigUInt64LE(0)) };
    },
    run(r, s, dir) {
      const { bytes, hot } = s as { bytes: Buffer; hot: number };
      const file = path.join(dir, 'x.safetensors');
      fs.writeFileSync(file, mutateBytes(r, bytes, hot));
      const f = openSafetensors(file);
      for (const name of f.tensors.keys()) readTensor(f, name).dispose();
    },
  },
  {
    name: 'config.json',
    kind: 'parser',
    async setup(base) {
      writeRandomLlama(path.join(base, 'model'), TINY, { seed: 1 });
      return { dir: path.join(base, 'model'), config: JSON.parse(fs.readFileSync(path.join(base, 'model', 'config.json'), 'utf8')) };
    },
    run(r, s, dir) {
      const { dir: src, config } = s as { dir: string; config: object };
      link(path.join(src, 'model.safetensors'), dir, r.next() < 0.2 ? 'shard.safetensors' : 'model.safetensors');
      if (fs.existsSync(path.join(dir, 'shard.safetensors'))) {
        const names = [...openSafetensors(path.join(dir, 'shard.safetensors')).tensors.keys()];
        const index = { metadata: {}, weight_map: Object.fromEntries(names.map((n) => [n, 'shard.safetensors'])) };
        write(dir, 'model.safetensors.index.json', toJson(mutateJson(r, index)));
        write(dir, 'config.json', JSON.stringify(config));
      } else {
        write(dir, 'config.json', r.next() < 0.05 ? 'null' : toJson(mutateJson(r, config)));
      }
      const m = loadModel(dir, {
        task: pick(r, ['causal-lm', 'sequence-classification'] as const),
        quantize: r.next() < 0.3 ? 'nf4' : null,
      });
      try {
        forward(m);
      } finally {
        m.dispose();
      }
    },
  },
  {
    name: 'adapter',
    kind: 'parser',
    async setup(base) {
      const dir = path.join(base, 'model');
      writeRandomLlama(dir, TINY, { seed: 2 });
      const m = loadModel(dir, {});
      m.addLora({ r: 2, alpha: 4, dropout: 0, seed: 3 });
      m.saveAdapter(path.join(base, 'adapter'));
      m.dispose();
      return {
        dir,
        config: JSON.parse(fs.readFileSync(path.join(base, 'adapter', 'adapter_config.json'), 'utf8')),
        weights: fs.readFileSync(path.join(base, 'adapter', 'adapter_model.safetensors')),
      };
    },
    run(r, s, dir) {
      const { dir: model, config, weights } = s as { dir: string; config: object; weights: Buffer };
      const cfgOnly = r.next() < 0.5;
      write(dir, 'adapter_config.json', cfgOnly ? toJson(mutateJson(r, config)) : JSON.stringify(config));
      write(dir, 'adapter_model.safetensors', cfgOnly ? weights : mutateBytes(r, weights, 8 + Number(weights.readBigUInt64LE(0))));
      const m = loadModel(model, {});
      try {
        m.loadAdapter(dir);
        forward(m);
      } finally {
        m.dispose();
      }
    },
  },
  {
    name: 'tokenizer',
    kind: 'parser',
    async setup() {
      return null;
    },
    run(r, _s, dir) {
      const which = r.next();
      write(dir, 'tokenizer.json', which < 0.7 ? toJson(mutateJson(r, tokenizerJson)) : JSON.stringify(tokenizerJson));
      write(dir, 'tokenizer_config.json', which >= 0.7 ? toJson(mutateJson(r, tokenizerConfig)) : JSON.stringify(tokenizerConfig));
      if (r.next() < 0.1) write(dir, 'tokenizer.json', mutateBytes(r, Buffer.from(JSON.stringify(tokenizerJson))));
      const t = new Tokenizer(dir);
      const ids = t.encode(pick(r, ['hello world!', 'unicode 123', '', 'a'.repeat(60), '¡héllo, wörld!']));
      t.decode(ids);
      void t.eosId;
      if (t.hasChatTemplate) t.applyChatTemplate([{ role: 'user', content: 'hello' }]);
    },
  },
  {
    name: 'csv/tsv/jsonl',
    kind: 'parser',
    async setup() {
      const rows = csvText.trim().split('\n').slice(1).length;
      return {
        csv: Buffer.from(csvText),
        jsonl: Buffer.from(
          Array.from({ length: rows }, (_, i) =>
            JSON.stringify({ id: `c${i % 8}`, annotator: `a${i % 3}`, text: `text ${i} ü`, labels: ['joy', 'anger'][i % 2] }),
          ).join('\n') + '\n',
        ),
      };
    },
    async run(r, s, dir) {
      const { csv, jsonl } = s as { csv: Buffer; jsonl: Buffer };
      const kind = pick(r, ['csv', 'tsv', 'jsonl'] as const);
      const file = path.join(dir, `raw.${kind}`);
      const src = kind === 'jsonl' ? jsonl : kind === 'tsv' ? Buffer.from(csv.toString().replace(/,(?=[^ ])/g, '\t')) : csv;
      fs.writeFileSync(file, mutateBytes(r, src));
      await readCustom('fuzz', [file], {
        text: 'text',
        annotator: 'annotator',
        item: 'id',
        labelList: 'labels',
        labelNames: ['joy', 'anger'],
        ...(kind === 'tsv' ? { delimiter: '\t' } : {}),
      });
    },
  },
  {
    name: 'parquet+manifest',
    kind: 'parser',
    async setup(base) {
      const raw = path.join(base, 'raw.csv');
      fs.writeFileSync(
        raw,
        'id,annotator,text,labels\n' +
          Array.from({ length: 90 }, (_, i) => `i${i % 30},a${i % 3},text number ${i % 30},"${['joy', 'anger', 'joy,anger'][i % 3]}"`).join(
            '\n',
          ),
      );
      const out = path.join(base, 'prepared');
      await runPrepare({
        dataset: 'custom',
        input: [raw],
        out,
        split: 'random:0.6,0.2,0.2',
        minShare: 0,
        columns: { text: 'text', annotator: 'annotator', item: 'id', labelList: 'labels', labelNames: ['joy', 'anger'] },
      });
      return Object.fromEntries(fs.readdirSync(out).map((f) => [f, fs.readFileSync(path.join(out, f))]));
    },
    async run(r, s, dir) {
      const files = s as Record<string, Buffer>;
      const victim = pick(r, Object.keys(files));
      for (const [name, b] of Object.entries(files)) {
        let data: Uint8Array = b;
        if (name === victim)
          data =
            name.endsWith('.json') && r.next() < 0.7 ? Buffer.from(toJson(mutateJson(r, JSON.parse(b.toString())))) : mutateBytes(r, b);
        write(dir, name, data);
      }
      await loadPrepared(dir);
    },
  },
  {
    name: 'checkpoint',
    kind: 'parser',
    async setup(base) {
      const dir = path.join(base, 'model');
      writeRandomLlama(dir, TINY, { seed: 4 });
      const m = loadModel(dir, {});
      m.addLora({ r: 2, alpha: 4, dropout: 0, seed: 5 });
      const opt = new AdamW(
        m.trainableParameters().map((p) => p.param),
        { lr: 1e-3 },
      );
      opt.stepWith(
        m.trainableParameters().map((p) => {
          p.grad.copyFrom(Tensor.from(new Float32Array(p.grad.numel).fill(0.01), p.grad.shape));
          return p.grad;
        }),
        { lr: 1e-3 },
      );
      const ck = path.join(base, 'run', 'checkpoint');
      saveCheckpoint(ck, m, opt, {
        step: 1,
        epoch: 0,
        batch: 4,
        dropoutStep: 4,
        best: null,
        sinceBest: 0,
        history: [{ step: 1, loss: 2, lr: 1e-3 }],
      });
      opt.dispose();
      m.dispose();
      const files: Record<string, Buffer> = {};
      const walk = (d: string, rel = '') => {
        for (const f of fs.readdirSync(d)) {
          const p = path.join(d, f);
          if (fs.statSync(p).isDirectory()) walk(p, path.join(rel, f));
          else files[path.join(rel, f)] = fs.readFileSync(p);
        }
      };
      walk(ck);
      return { model: dir, files };
    },
    run(r, s, dir) {
      const { model, files } = s as { model: string; files: Record<string, Buffer> };
      const victim = pick(r, Object.keys(files));
      const side = r.next() < 0.3 ? `checkpoint.tmp-${1000 + int(r, 9000)}` : 'checkpoint';
      for (const [name, b] of Object.entries(files)) {
        if (name === victim && r.next() < 0.1) continue; // a file missing
        let data: Uint8Array = b;
        if (name === victim)
          data =
            name.endsWith('.json') && r.next() < 0.7 ? Buffer.from(toJson(mutateJson(r, JSON.parse(b.toString())))) : mutateBytes(r, b);
        fs.mkdirSync(path.dirname(path.join(dir, side, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, side, name), data);
      }
      const found = findCheckpoint(dir);
      if (!found) return;
      const m = loadModel(model, {});
      try {
        const { opt } = loadCheckpoint(
          found,
          m,
          () =>
            new AdamW(
              m.trainableParameters().map((p) => p.param),
              { lr: 1e-3 },
            ),
        );
        forward(m);
        opt.dispose();
      } finally {
        m.dispose();
      }
    },
  },
  {
    name: 'native ops',
    kind: 'native',
    async setup() {
      return [
        ...Object.keys(addon)
          .filter((k) => typeof (addon as unknown as Record<string, unknown>)[k] === 'function' && k !== 'NativeTensor' && !NOT_OPS.has(k))
          .sort(),
        ...TENSOR_METHODS,
      ];
    },
    run(r, s) {
      const ops = s as string[];
      const op = ops[int(r, ops.length)];
      lastOp = op;
      const tensors: Tensor[] = [];
      const arg = (): unknown => {
        const k = int(r, 10);
        if (k < 5) {
          const dims = int(r, 4),
            shape = Array.from({ length: dims }, () => pick(r, [0, 1, 2, 3, 4, 8, 16]));
          const dtype = pick(r, ['f32', 'f32', 'f16', 'bf16', 'u8', 'i32', 'i64'] as const);
          const n = shape.reduce((a, b) => a * b, 1);
          const t =
            r.next() < 0.5 || n === 0
              ? Tensor.zeros(shape, dtype) // values: ids out of range, NaN, huge
              : dtype === 'i64'
                ? Tensor.from(
                    BigInt64Array.from({ length: n }, () => BigInt(pick(r, [0, 1, -1, 3, 2 ** 31 - 1, -(2 ** 40)]))),
                    shape,
                  )
                : dtype === 'i32'
                  ? Tensor.from(
                      Int32Array.from({ length: n }, () => pick(r, [0, 1, -1, 3, 2 ** 31 - 1])),
                      shape,
                    )
                  : dtype === 'u8'
                    ? Tensor.from(
                        Uint8Array.from({ length: n }, () => int(r, 256)),
                        shape,
                      )
                    : Tensor.from(
                        Float32Array.from({ length: n }, () => pick(r, [0, 1, -1, 0.5, NaN, Infinity, -Infinity, 1e38, 3e-45])),
                        shape,
                        { dtype },
                      );
          tensors.push(t);
          if (r.next() < 0.05) t.handle.dispose();
          return t.handle;
        }
        if (k < 8) return pick(r, [0, 1, 2, 4, 16, -1, 0.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 62, 1e300, 'none', 'tanh', true, null]);
        if (k === 8) {
          const t = () => {
            const x = Tensor.zeros([pick(r, [0, 1, 2, 8, 16, 32])], pick(r, ['u8', 'f32'] as const));
            tensors.push(x);
            return x.handle;
          };
          return {
            packed: t(),
            absmax: t(),
            code: t(),
            nestedAbsmax: t(),
            nestedCode: t(),
            numel: pick(r, [0, 1, 16, 64, -1, NaN, 2 ** 60]),
            blocksize: pick(r, [0, 1, 2, 64, 3, NaN]),
            nestedBlocksize: pick(r, [0, 1, 256, -3]),
            rows: pick(r, [0, 1, 4, -1, 2 ** 40]),
            cols: pick(r, [0, 1, 16, 2 ** 40]),
            offset: pick(r, [0, NaN]),
          };
        }
        return [{ param: arg(), master: null, grad: arg(), m: arg(), v: arg() }];
      };
      const args = Array.from({ length: int(r, 15) }, arg);
      try {
        if (op.startsWith('tensor.')) {
          // a NativeTensor method on a tensor argument (or a fresh one)
          const self = (args.find((a) => a instanceof addon.NativeTensor) ??
            (tensors.push(Tensor.zeros([4, 4])), tensors[tensors.length - 1].handle)) as unknown as Record<
            string,
            (...a: unknown[]) => unknown
          >;
          const extra = [
            pick(r, [new Uint8Array(int(r, 80)), new Float32Array(int(r, 20)), [1, 2], 'x', undefined]),
            pick(r, [0, 3, -1, 2 ** 53, NaN, 64, undefined]),
          ];
          const m = op.slice(7);
          try {
            self[m](
              ...(m === 'view'
                ? [pick(r, [[2, 2], [16], [0], [2 ** 40, 2 ** 40], [-1], 'x']), ...extra.slice(1)]
                : m === 'to'
                  ? [pick(r, [0, 'x', NaN])]
                  : m === 'copyFrom'
                    ? args
                    : extra),
            );
          } catch (e) {
            rethrowNative(e);
          }
        } else (addon as unknown as Record<string, (...a: unknown[]) => unknown>)[op](...args);
      } finally {
        for (const t of tensors) t.dispose();
      }
    },
  },
];

/** functions of the addon that are not ops (they take no tensors; fuzzing them would change the process's state) */
const TENSOR_METHODS = ['tensor.view', 'tensor.copyFromArray', 'tensor.copyToArray', 'tensor.copyFrom', 'tensor.to'];
const NOT_OPS = new Set([
  'set_threads',
  'profile_start',
  'profile_stop',
  'reset_peak',
  'empty_cache',
  'use_cublaslt',
  'build_info',
  'cuda_info',
  'memory',
  'synchronize',
]);
/** the op of the last native case (the child reports it with a crash) */
export let lastOp = '';

/**
 * The harness checking itself: cases 0–4 are accepted, typed, untyped, unnamed and a crash
 * (process.abort), case 5 hangs; the test asserts each is counted as such.
 */
export const SELFTEST: Target = {
  name: 'selftest',
  kind: 'parser',
  async setup() {
    return null;
  },
  run(_r, _s, dir) {
    const i = Number(path.basename(dir).slice(5));
    if (i === 1) throw new FormatError(`${dir}: refused`);
    if (i === 2) throw new TypeError('untyped');
    if (i === 3) throw new FormatError('names no file');
    if (i === 4) process.abort();
    if (i === 5) for (;;);
  },
};
