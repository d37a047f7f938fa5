#!/usr/bin/env node
// The plf-native command line: parses arguments and calls the library.
import fs from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError } from '../lib/errors.js';
import { SETTINGS, type Setting } from '../lib/prompts/templates.js';
import { DEFAULT_TRAIN } from '../lib/train/defaults.js';

// The library loads when a command runs, not for --help or a usage error: Node starts the CLI in
// ~0.3 s instead of ~0.8 s (the queue, server and model code are most of the module graph).
const lib = {
  info: () => import('../lib/info.js'),
  tokenizer: () => import('../lib/io/tokenizer.js'),
  prepare: () => import('../lib/data/run.js'),
  run: () => import('../lib/experiments/run.js'),
  demo: () => import('../lib/experiments/demo.js'),
  seeds: () => import('../lib/experiments/seeds.js'),
  experiment: () => import('../lib/experiments/experiment.js'),
  quantize: () => import('../lib/models/quantize.js'),
  query: () => import('../lib/experiments/query.js'),
  serve: () => import('../lib/serve/server.js'),
  pretrain: () => import('../lib/train/pretrain.js'),
  texts: () => import('../lib/data/texts.js'),
  submit: () => import('../lib/queue/submit.js'),
  worker: () => import('../lib/queue/worker.js'),
  connection: () => import('../lib/queue/connection.js'),
  progress: () => import('../lib/util/progress.js'),
  linear: () => import('../lib/ops/linear.js'),
};

// train and eval share their options (eval reads the run's, training options are ignored) and handler
const trainOptions = (y: Argv) =>
  y
    .option('data', { type: 'string', demandOption: true, describe: 'prepared folder (plf-native prepare)' })
    .option('model', { type: 'string', demandOption: true, describe: 'HF model folder (config.json, safetensors, tokenizer.json)' })
    .option('setting', {
      choices: SETTINGS,
      demandOption: true,
      describe: "the paper's setting: Q-* prompt the base, CLS*/LM* fine-tune (-P: with the annotator id)",
    })
    .option('out', { type: 'string', demandOption: true, describe: 'run folder: checkpoint/, best/, metrics.json, predictions.jsonl' })
    .option('quantize', { choices: ['nf4', 'none'] as const, default: 'nf4', describe: 'the base weights: NF4 (QLoRA) or as stored' })
    .option('device', {
      choices: ['cpu', 'cuda'] as const,
      default: 'cpu' as const,
      describe: 'where the model runs (cuda: see plf-native info)',
    })
    .option('matmul-precision', {
      choices: ['highest', 'bf16', 'f16'] as const,
      default: 'highest' as const,
      describe: 'cuda: bf16 or f16 runs the matmuls on tensor cores (f32 accumulation)',
    })
    .option('activations', {
      choices: ['f32', 'bf16', 'f16'] as const,
      default: 'f32' as const,
      describe: 'dtype of the hidden states (bf16/f16 halve activation memory; math stays f32)',
    })
    .option('gradient-checkpointing', {
      type: 'boolean',
      default: false,
      describe: 'recompute each layer in backward: activation memory of one layer, one more forward',
    })
    .option('r', { type: 'number', default: 2, describe: 'LoRA rank' })
    .option('alpha', { type: 'number', default: 32, describe: 'LoRA alpha (scale = alpha / r)' })
    .option('dropout', { type: 'number', default: 0.05, describe: 'LoRA dropout, in [0, 1)' })
    .option('lr', { type: 'number', default: DEFAULT_TRAIN.lr, describe: 'peak learning rate (AdamW, cosine with 5% warmup)' })
    .option('batch', { type: 'number', default: DEFAULT_TRAIN.batchSize, describe: 'examples per forward pass' })
    .option('accum', { type: 'number', default: DEFAULT_TRAIN.gradAccum, describe: 'batches per optimizer step (gradient accumulation)' })
    .option('epochs', { type: 'number', default: DEFAULT_TRAIN.epochs, describe: 'passes over the training split' })
    .option('max-steps', { type: 'number', describe: 'stop after this many optimizer steps (overrides --epochs)' })
    .option('eval-every', { type: 'number', default: 0, describe: 'evaluate on val every N steps (0: at the end)' })
    .option('best-by', { choices: ['loss', 'f1'] as const, default: 'loss', describe: 'what picks best/: val loss or val F1-macro' })
    .option('early-stop', { type: 'number', default: 0, describe: 'stop after N evaluations without improvement (0: never)' })
    .option('save-every', { type: 'number', default: 0, describe: 'checkpoint every N steps (0: at evaluations and the end)' })
    .option('seed', { type: 'number', default: 42, describe: 'seed of LoRA init, dropout and batch order' })
    .option('max-length', { type: 'number', default: 512, describe: 'prompt + target tokens at most (only the text is cut)' })
    .option('resume', { type: 'boolean', default: false, describe: "continue the run folder's last checkpoint" })
    .option('tokenizer', { type: 'string', describe: "'byte' or a folder with tokenizer.json (default: the model folder's)" })
    .option('overwrite', {
      type: 'boolean',
      default: false,
      describe: 'train anew into a folder that holds a finished run or a checkpoint',
    })
    .option('threshold', {
      choices: ['paper', 'tune'] as const,
      default: 'paper' as const,
      describe: "CLS: also report test metrics with per-label thresholds tuned on val ('tune')",
    })
    .option('config', { type: 'string', describe: 'JSON file with any of these options (flags win)' })
    .option('limit', { type: 'number', describe: 'use at most this many rows per split (quick runs)' })
    .option('chat-template', {
      choices: ['auto', 'on', 'off'] as const,
      default: 'auto' as const,
      describe: "Q-*: wrap prompts in tokenizer_config.json's chat_template (auto: when it has one)",
    })
    .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' })
    .example('$0 train --data prepared/goemotions --model models/Mistral-7B-v0.1 --setting CLS-P --out runs/ge-mistral-clsp', '')
    .example('$0 eval --data prepared/goemotions --model models/Mistral-7B-v0.1 --setting Q-1S --out runs/ge-mistral-q1s', '');

type TrainArgs = Awaited<ReturnType<typeof trainOptions>['argv']>;
const trainOrEval = async (a: TrainArgs) => {
  const file = a.config ? readTrainConfig(a.config) : {};
  // flags always win over the config file, written `--x v` or `--x=v`
  const given = (k: string) => process.argv.some((x) => x === `--${k}` || x.startsWith(`--${k}=`));
  const pick = <T>(k: string, v: T): T => (given(k) || file[k] === undefined ? v : (file[k] as T));
  const device = pick('device', a.device);
  if (device === 'cuda') (await lib.linear()).setMatmulPrecision(pick('matmul-precision', a['matmul-precision']));
  const limit = pick('limit', a.limit);
  const lim = limit === undefined ? undefined : { train: limit, val: limit, test: limit };
  const { runSetting } = await lib.run();
  const r = await runSetting({
    prepared: a.data,
    model: a.model,
    setting: a.setting as Setting,
    out: a.out,
    quantize: pick('quantize', a.quantize) === 'nf4' ? 'nf4' : null,
    lora: { r: pick('r', a.r), alpha: pick('alpha', a.alpha), dropout: pick('dropout', a.dropout), seed: pick('seed', a.seed) },
    train: {
      lr: pick('lr', a.lr),
      batchSize: pick('batch', a.batch),
      gradAccum: pick('accum', a.accum),
      epochs: pick('epochs', a.epochs),
      maxSteps: pick('max-steps', a['max-steps']),
      evalEvery: pick('eval-every', a['eval-every']),
      bestBy: pick('best-by', a['best-by'] as 'loss' | 'f1'),
      earlyStop: pick('early-stop', a['early-stop']),
      saveEvery: pick('save-every', a['save-every']),
      seed: pick('seed', a.seed),
    },
    maxLength: pick('max-length', a['max-length']),
    resume: a.resume,
    overwrite: a.overwrite,
    threshold: a.threshold,
    tokenizer:
      a.tokenizer === undefined
        ? undefined
        : a.tokenizer === 'byte'
          ? new (await lib.tokenizer()).ByteTokenizer()
          : (await lib.tokenizer()).loadTokenizer(a.tokenizer),
    limit: lim,
    evalOnly: a._[0] === 'eval',
    chatTemplate: pick('chat-template', a['chat-template']),
    hooks: (await lib.progress()).settingHooks(a.setting),
    device,
    gradientCheckpointing: pick('gradient-checkpointing', a['gradient-checkpointing']),
    activations: pick('activations', a.activations),
  });
  const { eval: ev, ...res } = r;
  console.log(
    a.json
      ? JSON.stringify({ ...res, metrics: ev.metrics }, null, 2)
      : `\n${a.setting}: F1-macro ${(100 * r.f1Macro).toFixed(2)}, F1-micro ${(100 * r.f1Micro).toFixed(2)}, subset accuracy ${(100 * r.subsetAccuracy).toFixed(2)} ` +
          `on ${r.rows} test rows (${ev.unknownWords} unknown words); predictions in ${a.out}/predictions.jsonl`,
  );
};

/** Draws the grid's status lines on stderr: redrawn in place on a terminal, a line per change otherwise. */
function statusView(): (lines: string[]) => void {
  let drawn = 0;
  const seen = new Map<string, string>();
  return (lines) => {
    if (process.stderr.isTTY) {
      process.stderr.write((drawn ? `\x1b[${drawn}A` : '') + lines.map((l) => `\x1b[2K${l}\n`).join(''));
      drawn = lines.length;
      return;
    }
    for (const l of lines) {
      const [name, state] = l.split(/\s{2,}/);
      const key = `${state} ${/step \d+\/(\d+)/.exec(l) ? 'training' : /eval/.test(l) ? 'eval' : ''}`;
      if (seen.get(name) !== key) process.stderr.write(l + '\n');
      seen.set(name, key);
    }
  };
}

function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(0)} MiB`;
}

async function printInfo(json: boolean): Promise<void> {
  const i = (await lib.info()).info();
  if (json) {
    console.log(JSON.stringify(i, null, 2));
    return;
  }
  const b = i.build,
    c = i.cuda;
  console.log(`plf-native ${i.version} (node ${i.node}, N-API ${b.napiVersion})`);
  console.log(
    `  CPU:    ${b.threads} OpenMP threads${b.openmp ? `, wait policy ${b.ompWaitPolicy}` : ' (OpenMP not found: single-threaded)'}, SIMD ${b.simd}`,
  );
  console.log(`  CUDA:   ${b.cuda ? `compiled (${b.cudaBuild}, archs ${b.cudaArchs})` : `not compiled (${b.cudaBuild})`}`);
  if (c.usable) {
    const drv = `${Math.floor(c.driverVersion / 1000)}.${(c.driverVersion % 1000) / 10}`;
    console.log(`  device: ${c.name}, compute ${c.computeCapability}, ${formatBytes(c.totalMemory)}, driver CUDA ${drv}`);
    const lt = c.cublasLt;
    console.log(
      `  cuBLASLt: ${lt.loaded ? `${lt.library} (version ${lt.version}) for the bf16 matmuls${lt.enabled ? '' : ', turned off'}` : `not used — ${lt.reason}`}`,
    );
  } else {
    console.log(`  device: none usable — ${c.reason}; running on the CPU`);
  }
}

/** The options `train --config FILE` may set: kebab-case as the flags, or camelCase as experiment configs write them. */
const TRAIN_KEYS = [
  'quantize',
  'device',
  'matmul-precision',
  'activations',
  'gradient-checkpointing',
  'r',
  'alpha',
  'dropout',
  'lr',
  'batch',
  'accum',
  'epochs',
  'max-steps',
  'eval-every',
  'best-by',
  'early-stop',
  'save-every',
  'seed',
  'max-length',
  'limit',
  'chat-template',
];
const CAMEL: Record<string, string> = { batchSize: 'batch', gradAccum: 'accum' };
/** An error's stack and its chain of causes, for --verbose. */
function verboseTrace(err: Error): string {
  const lines: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++)
    lines.push(depth ? `caused by: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` : (err.stack ?? err.message));
  return lines.join('\n');
}

function readTrainConfig(file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${file}: must hold a JSON object`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const key = CAMEL[k] ?? k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    if (!TRAIN_KEYS.includes(key)) throw new ConfigError(`${file}: unknown option '${k}' (known: ${TRAIN_KEYS.join(', ')})`);
    out[key] = v;
  }
  return out;
}

await yargs(hideBin(process.argv))
  .scriptName('plf-native')
  .command(
    'info',
    'show the build (CUDA, OpenMP, SIMD) and the CUDA device',
    (y) =>
      y
        .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' })
        .example('$0 info --json', 'build and device as JSON'),
    (a) => printInfo(a.json),
  )
  .command(
    'prepare',
    "per-annotator splits, filters and few-shot sets (the paper's data procedure) → parquet + manifest.json",
    (y) =>
      y
        .option('dataset', { choices: ['goemotions', 'unhealthy', 'custom'] as const, demandOption: true, describe: 'which raw format' })
        .option('input', {
          type: 'string',
          array: true,
          demandOption: true,
          describe: 'raw annotation file(s): goemotions_{1,2,3}.csv, unhealthy_full.csv, or CSV/TSV/JSON(L)',
        })
        .option('splits', {
          type: 'string',
          describe: 'official split folder (goemotions: official_split_aggregated, unhealthy: official_aggregated)',
        })
        .option('split', { type: 'string', describe: 'random:TRAIN,VAL,TEST item fractions instead of the official split' })
        .option('out', { type: 'string', demandOption: true, describe: 'output folder' })
        .option('seed', { type: 'number', default: 42, describe: 'sampling of capped annotators and of few-shot examples' })
        .option('min-share', {
          type: 'number',
          default: 0.05,
          describe: 'drop annotators with fewer rows than this × the top annotator (per split)',
        })
        .option('max-share', {
          type: 'number',
          default: 0.6,
          describe: 'cap annotators at floor(this × the top annotator) rows (per split)',
        })
        .option('columns', {
          type: 'string',
          describe: 'custom: JSON column map file (text, annotator, item, labelColumns | labelList, …)',
        })
        .option('name', { type: 'string', describe: 'custom: dataset name' })
        .option('encoding-errors', {
          choices: ['fatal', 'replace'] as const,
          default: 'fatal' as const,
          describe: 'invalid UTF-8 in an input: an error naming file and line (fatal), or kept as U+FFFD (replace)',
        })
        .option('overwrite', { type: 'boolean', default: false, describe: 'replace a prepared dataset (or other files) already in --out' })
        .option('json', { type: 'boolean', default: false, describe: 'print the manifest as JSON' })
        .example(
          '$0 prepare --dataset goemotions --input data/goemotions_1.csv data/goemotions_2.csv data/goemotions_3.csv --splits data/official_split_aggregated --out prepared/goemotions',
          '',
        )
        .example('$0 prepare --dataset custom --input raw.csv --columns map.json --split random:0.8,0.1,0.1 --out prepared/mine', ''),
    async (a) => {
      const { runPrepare } = await lib.prepare();
      const r = await runPrepare({
        dataset: a.dataset,
        input: a.input,
        splits: a.splits,
        split: a.split,
        out: a.out,
        seed: a.seed,
        minShare: a['min-share'],
        maxShare: a['max-share'],
        columns: a.columns,
        name: a.name,
        encodingErrors: a['encoding-errors'],
        overwrite: a.overwrite,
      });
      console.log(a.json ? JSON.stringify(r.manifest, null, 2) : `${r.text}\nwritten to ${a.out}`);
    },
  )
  .command(
    'train',
    'fine-tune CLS, CLS-P, LM or LM-P on a prepared folder (QLoRA), then evaluate on test',
    (y) => trainOptions(y),
    (a) => trainOrEval(a),
  )
  .command(
    'eval',
    "evaluate a trained run's best/ on test (CLS/LM settings), or the base model by prompting (Q-0S/1S/2S)",
    (y) => trainOptions(y),
    (a) => trainOrEval(a),
  )
  .command(
    'query',
    'Q-0S / Q-1S / Q-2S through an OpenAI-compatible chat-completions endpoint (resumable)',
    (y) =>
      y
        .option('data', { type: 'string', demandOption: true, describe: 'prepared folder (plf-native prepare)' })
        .option('setting', {
          choices: ['Q-0S', 'Q-1S', 'Q-2S'] as const,
          demandOption: true,
          describe: 'zero-, one- or two-shot prompting',
        })
        .option('endpoint', { type: 'string', demandOption: true, describe: 'base URL, e.g. http://localhost:8000/v1' })
        .option('model', { type: 'string', demandOption: true, describe: 'model name the endpoint serves' })
        .option('api-key-env', { type: 'string', describe: 'environment variable holding the API key' })
        .option('out', { type: 'string', demandOption: true, describe: 'run folder (answers are appended, so a rerun resumes)' })
        .option('concurrency', { type: 'number', default: 4, describe: 'requests in flight at once' })
        .option('retries', { type: 'number', default: 5, describe: 'retries per request on 429/5xx/network errors (Retry-After honoured)' })
        .option('timeout', { type: 'number', default: 60, describe: 'seconds per request' })
        .option('max-tokens', { type: 'number', default: 64, describe: 'completion tokens per answer' })
        .option('limit', { type: 'number', describe: 'only the first N test rows' })
        .option('json', { type: 'boolean', default: false, describe: 'print the metrics as JSON' })
        .example(
          'OPENAI_API_KEY=… $0 query --data prepared/goemotions --setting Q-1S --endpoint https://api.example.com/v1 --model gpt-4o-mini --api-key-env OPENAI_API_KEY --out runs/q1s',
          '',
        ),
    async (a) => {
      const { ProgressBar } = await lib.progress();
      let bar: InstanceType<typeof ProgressBar> | undefined;
      const { runQuery } = await lib.query();
      const r = await runQuery({
        prepared: a.data,
        setting: a.setting as Setting,
        endpoint: a.endpoint,
        model: a.model,
        apiKeyEnv: a['api-key-env'],
        out: a.out,
        concurrency: a.concurrency,
        retries: a.retries,
        timeoutMs: a.timeout * 1000,
        maxTokens: a['max-tokens'],
        limit: a.limit,
        onProgress: (d, t) => {
          bar ??= new ProgressBar(`${a.setting} requests`, t);
          bar.update(d, '', t);
        },
      });
      bar?.finish();
      console.log(
        a.json
          ? JSON.stringify(r, null, 2)
          : `${a.setting} via ${a.model}: F1-macro ${(100 * r.f1Macro).toFixed(2)} on ${r.rows} rows (${r.unknownWords} unknown words)`,
      );
    },
  )
  .command(
    'pretrain',
    'pretrain a small Llama from scratch on plain texts (causal LM, every weight) → an HF model folder for train / eval / quantize',
    (y) =>
      y
        .option('text', {
          type: 'string',
          array: true,
          demandOption: true,
          describe: 'text files: .txt (a text per line), .jsonl, .csv/.tsv',
        })
        .option('text-column', { type: 'string', default: 'text', describe: 'the field of .jsonl / the column of .csv/.tsv' })
        .option('out', {
          type: 'string',
          demandOption: true,
          describe: 'model folder to write (config.json, model.safetensors, tokenizer)',
        })
        .option('shape', {
          type: 'string',
          default: 'tiny',
          describe: 'tiny, small, or JSON {"hidden":…,"layers":…,"heads":…,"intermediate":…}',
        })
        .option('tokenizer', { type: 'string', default: 'byte', describe: "'byte' or a folder with tokenizer.json" })
        .option('minutes', { type: 'number', describe: 'time budget for the training steps' })
        .option('tokens', { type: 'number', describe: 'token budget (instead of --minutes)' })
        .option('seq-len', { type: 'number', default: 256, describe: 'tokens per packed training sequence' })
        .option('batch', { type: 'number', default: 8, describe: 'sequences per step' })
        .option('lr', { type: 'number', default: 3e-3, describe: 'peak AdamW learning rate (cosine schedule)' })
        .option('seed', { type: 'number', default: 42, describe: 'initialisation, packing order and held-out split' })
        .option('device', { choices: ['cpu', 'cuda'] as const, default: 'cpu' as const, describe: 'where to train' })
        .option('resume', { type: 'boolean', default: false, describe: "continue from the folder's last checkpoint" })
        .option('overwrite', { type: 'boolean', default: false, describe: 'start anew in a folder that holds a pretrained model' })
        .option('json', { type: 'boolean', default: false, describe: 'print the losses as JSON' })
        .example('$0 pretrain --text corpus.txt --out models/tiny --minutes 3', 'a byte-level tiny Llama in three minutes'),
    async (a) => {
      let shape: 'tiny' | 'small' | { hidden: number; layers: number; heads: number; intermediate: number } = a.shape as 'tiny';
      if (a.shape.trim().startsWith('{')) {
        try {
          shape = JSON.parse(a.shape);
        } catch (e) {
          throw new ConfigError(`--shape: ${(e as Error).message}`);
        }
      }
      const files = await (await lib.texts()).readTexts(a.text, { textColumn: a['text-column'] });
      const hooks = (await lib.progress()).settingHooks('pretrain');
      const { pretrain } = await lib.pretrain();
      const r = await pretrain({
        texts: files.flatMap((f) => f.texts),
        out: a.out,
        shape,
        tokenizer: a.tokenizer,
        minutes: a.minutes,
        tokens: a.tokens,
        seqLen: a['seq-len'],
        batchSize: a.batch,
        lr: a.lr,
        seed: a.seed,
        device: a.device,
        resume: a.resume,
        overwrite: a.overwrite,
        hooks: { onStep: hooks.onStep, onInfo: hooks.onInfo },
      });
      console.log(
        a.json
          ? JSON.stringify(r, null, 2)
          : `pretrained ${r.parameters.toLocaleString('en')} parameters on ${r.tokensSeen.toLocaleString('en')} tokens (${r.steps} steps, ${r.seconds.toFixed(0)} s): ` +
              `train loss ${r.trainLoss.toFixed(3)}, held-out loss ${r.heldOutLoss.toFixed(3)} (perplexity ${r.perplexity.toFixed(2)}) → ${r.out}`,
      );
    },
  )
  .command(
    'serve',
    'an OpenAI-compatible server for trained runs: /v1/chat/completions (LM runs, the base), /v1/moderations (CLS runs), /v1/models, /health, /metrics',
    (y) =>
      y
        .option('run', {
          type: 'string',
          array: true,
          default: [] as string[],
          describe: '[NAME=]DIR of a trained run (repeat for several; NAME defaults to the folder name)',
        })
        .option('base', { type: 'string', describe: "the base model folder (overrides run.json's; alone: serve just the base)" })
        .option('base-name', { type: 'string', describe: "the base model's id (default: the runs' model name)" })
        .option('tokenizer', {
          type: 'string',
          describe: "'byte' or a folder with tokenizer.json (default: what each run was trained with)",
        })
        .option('host', { type: 'string', default: '127.0.0.1', describe: 'interface to listen on' })
        .option('port', { type: 'number', default: 8080, describe: 'TCP port (0: any free port, printed)' })
        .option('device', { choices: ['cpu', 'cuda'] as const, describe: 'where the models run (default: where each run was trained)' })
        .option('quantize', { choices: ['nf4', 'none'] as const, describe: 'the base alone: NF4 or as stored (runs keep theirs)' })
        .option('api-key-env', {
          type: 'string',
          describe: 'environment variable holding the key clients must send (Authorization: Bearer …)',
        })
        .option('max-batch', { type: 'number', default: 16, describe: 'rows per forward pass' })
        .option('max-queue', { type: 'number', default: 256, describe: 'rows waiting or running before 429' })
        .option('batch-window', { type: 'number', default: 2, describe: 'ms an idle model waits for more rows of the same run' })
        .option('max-body', { type: 'number', default: 1 << 20, describe: 'request body cap in bytes (413 above it)' })
        .option('max-length', { type: 'number', describe: "the base's prompt limit in tokens (default 2048; runs keep theirs)" })
        .example('$0 serve --run plf-demo/runs/LM-P --run cls=plf-demo/runs/CLS-P --port 8080', 'two runs of the demo on one port')
        .example('MY_KEY=… $0 serve --run runs/lm-p --api-key-env MY_KEY --host 0.0.0.0', 'with an API key, on every interface'),
    async (a) => {
      let apiKey: string | undefined;
      if (a['api-key-env']) {
        apiKey = process.env[a['api-key-env']];
        if (!apiKey) throw new ConfigError(`--api-key-env ${a['api-key-env']}: the environment variable is not set`);
      }
      if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535)
        throw new ConfigError(`--port must be an integer in 0…65535, got ${a.port}`);
      const { createServer } = await lib.serve();
      const server = await createServer({
        runs: a.run,
        base: a.base,
        baseName: a['base-name'],
        tokenizer: a.tokenizer,
        device: a.device,
        quantize: a.quantize === undefined ? undefined : a.quantize === 'nf4' ? 'nf4' : null,
        apiKey,
        maxBatch: a['max-batch'],
        maxQueue: a['max-queue'],
        batchWindowMs: a['batch-window'],
        maxBodyBytes: a['max-body'],
        maxLength: a['max-length'],
      });
      const http = await server.listen(a.port, a.host);
      const addr = http.address() as { address: string; port: number };
      const shown = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
      console.log(
        `plf-native serve: http://${shown}:${addr.port}/v1 — ${server.models.map((m) => `${m.id} (${m.kind === 'base' ? 'base' : m.setting})`).join(', ')}`,
      );
      console.log(
        `  ${apiKey ? `API key from $${a['api-key-env']}` : 'no API key'}; Ctrl-C or SIGTERM finishes the requests in flight, then exits`,
      );
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          console.log(
            `plf-native serve: ${sig} — finishing ${server.metrics().match(/plf_queue_depth (\d+)/)?.[1] ?? 0} queued request(s) and the batch in flight`,
          );
          void server.close().then(resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      console.log('plf-native serve: stopped');
    },
  )
  .command(
    'experiment',
    "a grid of datasets × models × settings → results.json/csv, the paper's tables and figures (f1.svg, gains.svg)",
    (y) =>
      y
        .option('config', { type: 'string', demandOption: true, describe: 'experiment JSON (see experiments/paper.json)' })
        .option('device', { choices: ['cpu', 'cuda'] as const, describe: "where the runs go (overrides the config's device)" })
        .option('matmul-precision', { choices: ['highest', 'bf16', 'f16'] as const, describe: 'cuda: tensor-core operand precision' })
        .option('activations', { choices: ['f32', 'bf16', 'f16'] as const, describe: 'dtype of the hidden states' })
        .option('gradient-checkpointing', { type: 'boolean', describe: 'recompute each layer in backward' })
        .option('json', { type: 'boolean', default: false, describe: "print results.json's rows" })
        .option('queue', { type: 'string', describe: 'redis://host:port[/db]: run the grid on `plf-native worker`s (see "Many machines")' })
        .option('detach', { type: 'boolean', default: false, describe: 'with --queue: only enqueue' })
        .option('status', { type: 'boolean', default: false, describe: 'with --queue: print where every run stands' })
        .option('cancel', { type: 'boolean', default: false, describe: 'with --queue: remove the runs still waiting' })
        .example('$0 experiment --config experiments/paper.json', '')
        .example('$0 experiment --config experiments/paper.json --queue redis://10.0.0.5:6379', 'on every worker connected to that Redis')
        .example(
          '$0 experiment --config experiments/paper.json --device cuda --matmul-precision bf16 --activations bf16 --gradient-checkpointing',
          'the same grid on a GPU',
        ),
    async (a) => {
      const file = (await lib.experiment()).readExperimentConfig(a.config);
      const c = {
        ...file,
        device: a.device ?? file.device,
        matmulPrecision: a['matmul-precision'] ?? file.matmulPrecision,
        activations: a.activations ?? file.activations,
        gradientCheckpointing: a['gradient-checkpointing'] ?? file.gradientCheckpointing,
      };
      const say = (m: string) => process.stderr.write(m + '\n');
      if (!a.queue && (a.detach || a.status || a.cancel)) throw new ConfigError('--detach, --status and --cancel need --queue redis://…');
      if (a.queue && a.status) {
        const rows = await (await lib.submit()).gridStatus(c, a.queue, say);
        console.log(a.json ? JSON.stringify(rows, null, 2) : (await lib.submit()).formatStatus(rows).join('\n'));
        return;
      }
      if (a.queue && a.cancel) {
        const gone = await (await lib.submit()).cancelGrid(c, a.queue, say);
        console.log(a.json ? JSON.stringify(gone) : `removed ${gone.length} waiting run(s)${gone.length ? ': ' + gone.join(', ') : ''}`);
        return;
      }
      if (a.queue) {
        const view = statusView();
        const { submitGrid, formatStatus } = await lib.submit();
        const r = await submitGrid(c, { queue: a.queue, detach: a.detach, log: say, onStatus: (rows) => view(formatStatus(rows)) });
        if (!r) {
          console.log(
            `queued; follow it with: plf-native experiment --config ${a.config} --queue ${(await lib.connection()).redisTarget(a.queue).shown} --status`,
          );
          return;
        }
        console.log(
          a.json ? JSON.stringify(r, null, 2) : `${r.length} runs; tables in ${c.out}/tables.md, figures in ${c.out}/f1.svg, gains.svg`,
        );
        return;
      }
      const { settingHooks } = await lib.progress();
      const r = await (await lib.experiment()).runExperiment(c, say, (run) => settingHooks(run));
      console.log(
        a.json ? JSON.stringify(r, null, 2) : `${r.length} runs; tables in ${c.out}/tables.md, figures in ${c.out}/f1.svg, gains.svg`,
      );
    },
  )
  .command(
    'worker',
    'take runs from an experiment queue (Redis) and run them, one at a time per GPU',
    (y) =>
      y
        .option('queue', { type: 'string', demandOption: true, describe: 'redis://host:port[/db]' })
        .option('device', { type: 'string', describe: "cpu, cuda or cuda:N (that GPU alone); default: each run's device" })
        .option('concurrency', { type: 'number', default: 1, describe: 'runs at once' })
        .option('out-root', {
          type: 'string',
          describe: "where this machine mounts the submitter's experiment folder (default: the same path)",
        })
        .option('lock-ms', { type: 'number', default: 30000, describe: "a dead worker's run is taken over after about this long" })
        .example('$0 worker --queue redis://10.0.0.5:6379 --device cuda:0', 'one per GPU')
        .example(
          '$0 worker --queue redis://10.0.0.5:6379 --device cuda:1 --out-root /mnt/shared/paper',
          'the shared folder mounted elsewhere',
        ),
    async (a) => {
      const { startWorker } = await lib.worker();
      const w = await startWorker({
        queue: a.queue,
        device: a.device,
        concurrency: a.concurrency,
        outRoot: a['out-root'],
        lockMs: a['lock-ms'],
        stalledMs: Math.max(1000, Math.min(30000, a['lock-ms'])),
      });
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          console.log(`worker: ${sig} — finishing the run in progress (it checkpoints as it goes), then exiting`);
          void w.close().then(resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    },
  )
  .command(
    'bench [suites..]',
    'the CPU benchmarks (ops, omp, nf4, linear, optim, model, data, serve, queue), each against a peer measured in the same run',
    (y) =>
      y
        .positional('suites', {
          type: 'string',
          array: true,
          choices: ['ops', 'omp', 'nf4', 'linear', 'optim', 'model', 'data', 'parquet', 'serve', 'queue'],
        })
        .example('$0 bench linear nf4', 'only the kernel suites'),
    async (a) => {
      const { spawnSync } = await import('node:child_process');
      const { packageRoot } = await import('../lib/native/loader.js');
      const root = packageRoot();
      const env = { ...process.env, PLF_BENCH_OUT: process.env.PLF_BENCH_OUT ?? `${process.cwd()}/bench-results.json` };
      const r = spawnSync(process.execPath, [`${root}/dist/bench/run.js`, ...(a.suites ?? [])], { stdio: 'inherit', cwd: root, env });
      process.exitCode = r.status ?? 1;
    },
  )
  .command(
    'quantize',
    'an HF checkpoint → a bitsandbytes-format NF4 checkpoint (quantization_config; loadable by transformers)',
    (y) =>
      y
        .option('model', { type: 'string', demandOption: true, describe: 'HF model folder (config.json + safetensors)' })
        .option('out', { type: 'string', demandOption: true, describe: 'folder for the NF4 model' })
        .option('blocksize', { type: 'number', default: 64, describe: 'weights per absmax block (bitsandbytes: 64)' })
        .option('double-quant', { type: 'boolean', default: true, describe: 'quantize the absmax values too (QLoRA double quantization)' })
        .option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON' })
        .example('$0 quantize --model models/phi-2 --out models/phi-2-nf4', ''),
    async (a) => {
      const r = (await lib.quantize()).quantizeCheckpoint(a.model, a.out, { blocksize: a.blocksize, doubleQuant: a['double-quant'] });
      if (a.json) console.log(JSON.stringify({ ...r, out: a.out }, null, 2));
      else console.log(`${r.quantized} linear weights in NF4; ${(r.bytes / 2 ** 20).toFixed(1)} MiB written to ${a.out}`);
    },
  )
  .command(
    'demo',
    "the paper's method offline on the CPU: a small Llama pretrained here on real texts, then the 7 settings (QLoRA) on the real GoEmotions raters",
    (y) =>
      y
        .option('out', {
          type: 'string',
          default: 'plf-demo',
          describe: 'output folder (the pretrained base and finished runs are reused)',
        })
        .option('data-dir', {
          type: 'string',
          describe: 'the real data folder (goemotions/, unhealthy/, …; default PLF_DATA_DIR, then ../shared/data)',
        })
        .option('pretrain-minutes', { type: 'number', describe: "the base model's pretraining budget (default 3; cached in OUT/base)" })
        .option('synthetic', {
          type: 'boolean',
          default: false,
          describe: 'the synthetic smoke test instead (made-up annotators, a model trained fully from scratch)',
        })
        .option('data', { type: 'string', describe: "with --synthetic's small model: a prepared folder instead of the synthetic data" })
        .option('settings', { type: 'string', array: true, choices: SETTINGS, describe: 'only these settings (default: all seven)' })
        .option('seed', { type: 'number', default: 42, describe: 'data sampling, pretraining and fine-tuning seed' })
        .option('epochs', { type: 'number', describe: 'fine-tuning epochs (default: the demo recipe)' })
        .option('limit', { type: 'number', describe: 'with --data: at most this many train rows' })
        .option('json', { type: 'boolean', default: false, describe: 'print the results as JSON (the narrative goes to stderr)' })
        .option('seeds', {
          type: 'number',
          array: true,
          describe: 'the real demo once per seed (OUT/seed-S), then OUT/seeds.md: mean ± sd, per-user gains',
        })
        .example('$0 demo --seeds 42 1 2', "the README's 3-seed table")
        .example('$0 demo', 'pretrain → prepare → 7 settings with QLoRA on real GoEmotions raters')
        .example('$0 demo --synthetic', 'the synthetic smoke test, about 5 minutes on 2 cores')
        .example(
          '$0 demo --data prepared/popquorn --settings CLS CLS-P LM LM-P --limit 1200 --epochs 2',
          'the demo model on real prepared data',
        ),
    async (a) => {
      const { settingHooks } = await lib.progress();
      if (a.seeds?.length) {
        // one demo per seed in OUT/seed-S, then the table of all of them
        const outs: string[] = [];
        for (const seed of a.seeds) {
          const out = `${a.out}/seed-${seed}`;
          outs.push(out);
          const { runDemo } = await lib.demo();
          await runDemo({
            out,
            dataDir: a['data-dir'],
            pretrainMinutes: a['pretrain-minutes'],
            settings: a.settings as Setting[] | undefined,
            seed,
            log: (m) => process.stderr.write(m + '\n'),
            hooks: (s) => settingHooks(`seed ${seed} ${s}`),
          });
        }
        const { table, ...fig } = (await lib.seeds()).seedReport(outs);
        fs.writeFileSync(`${a.out}/seeds.md`, table);
        fs.writeFileSync(`${a.out}/seeds-f1.svg`, fig.f1);
        fs.writeFileSync(`${a.out}/seeds-gains.svg`, fig.gains);
        console.log(`${table}\nwritten to ${a.out}/seeds.md, seeds-f1.svg, seeds-gains.svg`);
        return;
      }
      const { runDemo } = await lib.demo();
      const r = await runDemo({
        out: a.out,
        data: a.data,
        synthetic: a.synthetic,
        dataDir: a['data-dir'],
        pretrainMinutes: a['pretrain-minutes'],
        pretrainHooks: (() => {
          const h = settingHooks('pretrain');
          return { onStep: h.onStep, onInfo: h.onInfo };
        })(),
        settings: a.settings as Setting[] | undefined,
        seed: a.seed,
        epochs: a.epochs,
        limit: a.limit,
        log: a.json ? (m) => process.stderr.write(m + '\n') : undefined,
        hooks: (s) => settingHooks(s),
      });
      if (a.json) console.log(JSON.stringify(r.results, null, 2));
    },
  )
  .option('verbose', { type: 'boolean', default: false, global: true, describe: 'on an error, print its stack and cause too' })
  .demandCommand(1, 'name a command (try: plf-native info)')
  .recommendCommands()
  .strict()
  .help()
  .fail((msg, err) => {
    if (err) {
      console.error(`plf-native: ${err.message}`);
      // read from argv: .fail() runs before (or without) the parsed options
      if (process.argv.includes('--verbose')) console.error(verboseTrace(err));
    } else {
      console.error(`plf-native: ${msg}`);
      console.error('run plf-native --help for the commands');
    }
    process.exit(1);
  })
  .parseAsync();
