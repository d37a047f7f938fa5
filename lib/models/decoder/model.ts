// A decoder-only transformer (llama, mistral, qwen2, phi, gpt_neox) with a causal-LM or
// sequence-classification head: config → blocks → model, explicit forward and backward.
import fs from 'node:fs';
import path from 'node:path';
import { Tensor, type Device } from '../../tensor.js';
import { writeSafetensors } from '../../io/safetensors.js';
import { io, writeFileAtomic } from '../../io/files.js';
import { ArgumentError, ConfigError, FormatError } from '../../errors.js';
import { Checkpoint, type TensorSource } from '../../io/checkpoint.js';
import { embeddingForward, embeddingBackward, lastTokenIndex, gatherRowsForward, gatherRowsBackward } from '../../ops/embedding.js';
import { linearForward, linearBackward } from '../../ops/linear.js';
import { scaleForward } from '../../ops/activation.js';
import { convertOwned } from '../../ops/convert.js';
import { crossEntropyForward, crossEntropyBackward, bceWithLogitsForward, bceWithLogitsBackward, IGNORE_INDEX } from '../../ops/loss.js';
import { Rng } from '../../util/random.js';
import { readConfig, type ModelConfig } from './config.js';
import { FAMILIES } from './families/index.js';
import { type FamilySpec } from './families/spec.js';
import { ModuleLoader } from '../module-loader.js';
import { Linear, Norm, type Pass } from '../layers.js';
import { Block, type Ctx, type LayerCache } from './blocks.js';
import { attachLora, peftName, type LoraConfig } from '../lora.js';
import { saveAdapter, loadAdapter } from '../peft.js';
import { generate, releaseDecode } from './generate.js';
import { type GenerateOptions } from '../greedy.js';
import { idsTensor, zeroGrads, labelsTensor } from '../batch.js';
import { type Model, type Task, type Batch, type TrainableParam, type LoadModelOptions, type Ids, type SavedModule } from '../model.js';

export class DecoderModel implements Model {
  readonly isEncoderDecoder = false;
  /** the model folder it was loaded from (adapters record it as base_model_name_or_path) */
  source: string | null = null;
  readonly spec: FamilySpec;
  lora: LoraConfig | null = null;
  /** training forward passes so far (seeds dropout; saved in checkpoints) */
  dropoutStep = 0;
  /**
   * Activation checkpointing: a training forward keeps only each layer's input and backward
   * recomputes the layer (same dropout masks), trading one more forward for activation memory of
   * one layer instead of all of them (what fits a 7B model's training step in 16 GiB).
   */
  gradientCheckpointing = false;
  /** dtype of the hidden states (LoadModelOptions.activations) */
  activations: 'f32' | 'bf16' | 'f16' = 'f32';
  /** full fine-tuning (trainAll): every linear and the head have a weightGrad */
  fullTraining = false;
  /** full fine-tuning: the embedding gradient (null when the head shares the embedding) */
  embedGrad: Tensor | null = null;
  private saved: {
    hs: Tensor[];
    xn: Tensor;
    logits: Tensor;
    ctx: Ctx;
    ids: Tensor;
    uploaded: Tensor[];
    targets?: Tensor;
    labels?: Tensor;
    idx?: Tensor;
    pooled?: Tensor;
    /** a loss-only forward: d(loss)/d(final norm output), computed chunk by chunk in forward */
    dxn?: Tensor;
  } | null = null;

  constructor(
    readonly config: ModelConfig,
    readonly task: Task,
    public embed: Tensor,
    readonly blocks: Block[],
    readonly finalNorm: Norm,
    readonly head: Linear,
  ) {
    this.spec = FAMILIES[config.family];
    this.linears().forEach((l, i) => (l.id = i));
  }

  /** Every linear of the layers (LoRA targets are chosen among these). */
  linears(): Linear[] {
    return this.blocks.flatMap((b) => b.linears());
  }

  /** Where the weights live and the forward pass runs. */
  get device(): Device {
    return this.embed.device;
  }

  /** LoRA's default target modules: every linear of a layer, never the head. */
  get defaultTargets(): string[] {
    return this.spec.targets;
  }

  /** The classification head, trained fully next to LoRA (PEFT's modules_to_save). */
  modulesToSave(): SavedModule[] {
    return this.head.weightGrad && !this.fullTraining ? [{ module: 'score', tensors: { weight: this.head.weight as Tensor } }] : [];
  }

  /** Adds LoRA adapters (PEFT init) to the target modules; the score head becomes fully trainable. */
  addLora(c: LoraConfig): void {
    if (this.lora) throw new ConfigError('this model already has LoRA adapters');
    const targets = c.targetModules ?? this.spec.targets;
    const rng = new Rng(c.seed ?? 42);
    let n = 0;
    for (const lin of this.linears()) {
      if (!targets.includes(lin.name.split('.').pop()!)) continue;
      attachLora(lin, c, rng);
      n++;
    }
    if (!n)
      throw new ConfigError(`no module matches targetModules [${targets.join(', ')}] (this family has: ${this.spec.targets.join(', ')})`);
    if (this.task === 'sequence-classification') this.head.weightGrad = Tensor.zeros(this.head.weight.shape, 'f32', this.device);
    this.lora = { ...c, targetModules: targets, dropout: c.dropout ?? 0 };
  }

  /**
   * Full fine-tuning of every linear, the head and the embeddings (norms stay frozen): for small
   * models trained from scratch, where a frozen random base gives LoRA nothing to adapt. Weights
   * must be f32 (not NF4).
   */
  trainAll(): void {
    if (this.lora) throw new ConfigError('trainAll: the model already has LoRA adapters');
    // tables kept in the activations' dtype while frozen (buildDecoderModel) train in f32
    if (this.embed.dtype !== 'f32') {
      const e = convertOwned(this.embed, 'f32');
      if (this.head.weight === this.embed) this.head.weight = e;
      this.embed = e;
    }
    if (this.head.weight instanceof Tensor && this.head.weight.dtype !== 'f32') this.head.weight = convertOwned(this.head.weight, 'f32');
    for (const lin of [...this.linears(), this.head]) {
      if (!(lin.weight instanceof Tensor) || lin.weight.dtype !== 'f32')
        throw new ConfigError(`trainAll: ${lin.name} must be an f32 weight (load without quantize)`);
      if (!lin.weightGrad) lin.weightGrad = Tensor.zeros(lin.weight.shape, 'f32', this.device);
    }
    if (this.head.weight !== this.embed) this.embedGrad = Tensor.zeros(this.embed.shape, 'f32', this.device);
    this.fullTraining = true;
  }

  /** Trainable tensors with their gradients, named as PEFT names them in memory (HF names when training fully). */
  trainableParameters(): TrainableParam[] {
    const out: TrainableParam[] = [];
    if (this.fullTraining) {
      if (this.embedGrad) out.push({ name: this.spec.embed, param: this.embed, grad: this.embedGrad });
      for (const lin of [...this.linears(), this.head])
        if (lin.weightGrad) out.push({ name: `${lin.name}.weight`, param: lin.weight as Tensor, grad: lin.weightGrad });
      return out;
    }
    for (const lin of this.linears()) {
      if (!lin.lora) continue;
      out.push({ name: peftName.loraA(lin.name), param: lin.lora.A, grad: lin.lora.gradA });
      out.push({ name: peftName.loraB(lin.name), param: lin.lora.B, grad: lin.lora.gradB });
    }
    if (this.head.weightGrad)
      out.push({ name: peftName.saved('score', 'weight'), param: this.head.weight as Tensor, grad: this.head.weightGrad });
    return out;
  }

  zeroGrad(): void {
    zeroGrads(this.trainableParameters());
  }

  /** Greedy decoding with a KV cache (see generate.ts). */
  generate(batch: Pick<Batch, 'inputIds' | 'attentionMask'>, opts: GenerateOptions): number[][] {
    return generate(this, batch, opts);
  }

  /** Frees the recorded decode step and KV cache generate keeps between calls (training does it too). */
  releaseDecode(): void {
    releaseDecode(this);
  }

  /** What a kept decode step reads that could be replaced between generate calls (see generate.ts). */
  decodeParts(): unknown[] {
    const out: unknown[] = [this.embed, this.activations, this.finalNorm.weight, this.finalNorm.bias];
    for (const b of this.blocks) out.push(b.ln1.weight, b.ln1.bias, b.ln2?.weight, b.ln2?.bias);
    for (const lin of [...this.linears(), this.head]) {
      const l = lin.lora;
      out.push(lin.weight, lin.bias, l, l?.A, l?.B, l?.scale);
    }
    return out;
  }

  saveAdapter(dir: string): void {
    saveAdapter(this, dir);
  }

  /** Every tensor under its HF name (f32 or as stored; NF4 weights are dequantized-free: not supported). */
  namedTensors(): Record<string, Tensor> {
    const out: Record<string, Tensor> = { [this.spec.embed]: this.embed };
    const norms = (n: Norm | null) => {
      if (n) {
        out[`${n.name}.weight`] = n.weight;
        if (n.bias) out[`${n.name}.bias`] = n.bias;
      }
    };
    for (const b of this.blocks) {
      norms(b.ln1);
      norms(b.ln2);
    }
    norms(this.finalNorm);
    for (const lin of [...this.linears(), this.head]) {
      if (!(lin.weight instanceof Tensor)) throw new ConfigError(`${lin.name} is NF4: save it with quantizeCheckpoint instead`);
      if (lin.weight !== this.embed || !this.config.tieEmbeddings) out[`${lin.name}.weight`] = lin.weight;
      if (lin.bias) out[`${lin.name}.bias`] = lin.bias;
    }
    return out;
  }

  /** An HF model folder (config.json + model.safetensors) with the current weights. */
  saveWeights(dir: string): void {
    io('create', dir, () => fs.mkdirSync(dir, { recursive: true }));
    writeSafetensors(path.join(dir, 'model.safetensors'), this.namedTensors(), { format: 'pt' });
    const raw: Record<string, unknown> = { ...this.config.raw, pad_token_id: this.config.padTokenId };
    if (this.task === 'sequence-classification') {
      const arch = String((raw.architectures as string[] | undefined)?.[0] ?? '').replace(/For\w+$/, '');
      raw.architectures = [`${arch}ForSequenceClassification`];
      raw.num_labels = this.head.outFeatures;
      raw.id2label = Object.fromEntries(Array.from({ length: this.head.outFeatures }, (_, i) => [String(i), `LABEL_${i}`]));
      raw.problem_type = 'multi_label_classification';
    }
    writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(raw, null, 2) + '\n');
  }
  loadAdapter(dir: string): void {
    loadAdapter(this, dir);
  }

  /** Logits (and the loss when labels are given). With `train`, activations are kept for backward(). */
  forward(
    batch: Batch,
    opts: { train?: boolean; cache?: LayerCache[]; cacheAt?: Tensor; lastOnly?: boolean; lossOnly?: boolean } = {},
  ): { logits: Tensor; loss?: number } {
    const train: Pass = opts.train ? { dropoutSeed: this.dropoutStep + 1 } : false;
    if (this.saved) this.release();
    // training's activations get the memory a kept decode step held (generate records it again)
    if (train) releaseDecode(this);
    if (train) this.dropoutStep++;
    // tensors made here (from the batch's arrays, or uploaded: every layer reads the mask and
    // positions, so on a GPU they are uploaded once, here) are this forward's to dispose
    const uploaded: Tensor[] = [];
    const asIds = (x: Ids, what: string) => {
      const t = idsTensor(x, what);
      if (t !== x) uploaded.push(t);
      return t;
    };
    const onDevice = (t: Tensor) => {
      if (t.device === this.device) return t;
      const d = t.to(this.device);
      uploaded.push(d);
      return d;
    };
    const ids = asIds(batch.inputIds, 'inputIds');
    const [B, T] = ids.shape;
    const mask = batch.attentionMask ? onDevice(asIds(batch.attentionMask, 'attentionMask')) : null;
    const positions = onDevice(
      batch.positionIds
        ? asIds(batch.positionIds, 'positionIds')
        : asIds(
            Array.from({ length: B }, () => Array.from({ length: T }, (_, t) => t)),
            'positions',
          ),
    );
    const ctx: Ctx = { B, T, positions, mask, train, cache: opts.cache, cacheAt: opts.cacheAt };
    let x = embeddingForward(ids, this.embed, this.activations);
    const hs: Tensor[] = [x];
    for (const block of this.blocks) {
      const y = block.forward(x, ctx);
      if (train && this.gradientCheckpointing) block.release();
      if (train) hs.push(y);
      else if (y !== x) x.dispose(); // inference updates x in place (Block.forward)
      x = y;
    }
    let xn = this.finalNorm.forward(x, train);
    if (!train) x.dispose();
    let logits: Tensor, loss: number | undefined;
    const keep: Partial<NonNullable<DecoderModel['saved']>> = {};
    if (this.task === 'causal-lm') {
      if (opts.lastOnly && T > 1) {
        // decoding: only the last position's logits are needed (one position: xn already is it)
        const C = this.config.hidden,
          last = Tensor.empty([B, 1, C], xn.dtype, xn.device);
        for (let b = 0; b < B; b++) Tensor.copyRange(last, b * C, xn, (b * T + T - 1) * C, C);
        xn.dispose();
        xn = last;
      }
      if (train && opts.lossOnly && batch.labels && !this.head.weightGrad && !this.head.lora) {
        // the LM head and the loss chunk by chunk: no [tokens, vocab] logits are kept (see headLoss)
        const targets = this.shiftedTargets(batch.labels, B, T);
        const r = this.headLoss(xn, targets);
        loss = r.loss;
        keep.targets = targets;
        keep.dxn = r.dxn;
        logits = Tensor.empty([0], 'f32', this.device);
      } else logits = this.head.forward(xn, train);
      if (batch.labels && !keep.dxn) {
        const targets = this.shiftedTargets(batch.labels, B, T);
        const flat = logits.view([B * T, this.config.vocabSize]);
        loss = crossEntropyForward(flat, targets).loss;
        flat.dispose();
        keep.targets = targets;
      }
    } else {
      const idx = this.poolIndex(ids);
      const pooled = gatherRowsForward(xn, idx);
      logits = this.head.forward(pooled, train);
      if (batch.labels) {
        const labels = labelsTensor(batch.labels, B, logits.shape[1], this.device);
        loss = bceWithLogitsForward(logits, labels);
        keep.labels = labels;
        if (labels !== batch.labels) uploaded.push(labels); // made here (a tensor given in the batch stays the caller's)
      }
      keep.idx = idx;
      keep.pooled = pooled;
    }
    if (train) this.saved = { hs, xn, logits, ctx, ids, uploaded, ...keep };
    else {
      uploaded.forEach((t) => t.dispose());
      xn.dispose();
      for (const t of [keep.pooled, keep.idx, keep.targets]) t?.dispose();
    }
    return { logits, loss };
  }

  /** Gradients of (scale × the loss of the last training forward) into the trainable grads; that forward's logits are disposed. */
  backward(scale = 1): void {
    const s = this.saved;
    if (!s) throw new ArgumentError('backward() needs a forward({ train: true }) with labels first');
    let dxn: Tensor;
    if (s.dxn) {
      dxn = scale === 1 ? s.dxn : scaleForward(s.dxn, scale); // the fused head's dxn, for a loss × scale
    } else if (this.task === 'causal-lm') {
      if (!s.targets) throw new ArgumentError('backward() needs labels in the forward batch');
      const flat = s.logits.view([s.ctx.B * s.ctx.T, this.config.vocabSize]);
      const dlogits = crossEntropyBackward(flat, s.targets, scale);
      flat.dispose();
      dxn = this.head.backward(dlogits)!;
      dlogits.dispose();
    } else {
      if (!s.labels) throw new ArgumentError('backward() needs labels in the forward batch');
      const dlogits = bceWithLogitsBackward(s.logits, s.labels, scale);
      const dpooled = this.head.backward(dlogits)!;
      dlogits.dispose();
      dxn = gatherRowsBackward(dpooled, s.idx!, s.xn.shape);
      dpooled.dispose();
    }
    let dx = this.finalNorm.backward(dxn);
    dxn.dispose();
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      if (this.gradientCheckpointing) {
        this.blocks[i].forward(s.hs[i], s.ctx).dispose(); // s.ctx carries this step's pass: the same dropout masks
      }
      const d = this.blocks[i].backward(dx);
      dx.dispose();
      dx = d;
    }
    if (this.embedGrad) embeddingBackward(s.ids, dx, this.embedGrad);
    dx.dispose();
    this.release();
  }

  /** Frees what the last training forward kept, its logits included. */
  release(): void {
    const s = this.saved;
    if (!s) return;
    this.saved = null;
    this.blocks.forEach((b) => b.release());
    this.finalNorm.release();
    this.head.release();
    for (const t of [...s.hs, s.xn, s.logits, s.targets, s.idx, s.pooled, s.dxn, ...s.uploaded]) t?.dispose();
  }

  /** rows of the LM head per chunk in a loss-only training forward */
  lossChunkRows = 1024;

  /**
   * The LM head and cross-entropy in chunks of rows (as Liger's fused linear cross-entropy): each
   * chunk's logits exist only while its loss and dlogits·W are taken, so a training step never
   * holds the [tokens, vocab] logits and their gradient. Returns the mean loss and d(loss)/dxn. The
   * head must be frozen (LoRA never targets it; full fine-tuning takes the unfused path).
   */
  private headLoss(xn: Tensor, targets: Tensor): { loss: number; dxn: Tensor } {
    const C = this.config.hidden,
      N = targets.numel;
    const tg = targets.toArray() as BigInt64Array;
    const ignored = BigInt(IGNORE_INDEX);
    let total = 0;
    for (const t of tg) total += t === ignored ? 0 : 1;
    const dxn = Tensor.zeros([N, C], xn.dtype, xn.device);
    let sum = 0;
    for (let r0 = 0; r0 < N && total; r0 += this.lossChunkRows) {
      const n = Math.min(this.lossChunkRows, N - r0);
      let counted = 0;
      for (let i = r0; i < r0 + n; i++) counted += tg[i] === ignored ? 0 : 1;
      if (!counted) continue;
      const xc = xn.view([n, C], r0 * C),
        tc = targets.view([n], r0);
      const lg = linearForward(xc, this.head.weight, this.head.bias);
      sum += crossEntropyForward(lg, tc).loss * counted;
      const dlg = crossEntropyBackward(lg, tc, counted / total); // the chunk's share of d(mean loss)
      lg.dispose();
      const dx = linearBackward(dlg, xc, this.head.weight, { dx: true }).dx!;
      dlg.dispose();
      Tensor.copyRange(dxn, r0 * C, dx, 0, n * C);
      for (const t of [dx, xc, tc]) t.dispose();
    }
    return { loss: total ? sum / total : NaN, dxn };
  }

  /** HF's causal-LM loss: position t predicts labels[t+1]; the last position has no target. */
  private shiftedTargets(labels: NonNullable<Batch['labels']>, B: number, T: number): Tensor {
    const l = idsTensor(labels as Ids, 'labels');
    const shape = [...l.shape],
      a = l.toArray() as BigInt64Array;
    if (l !== labels) l.dispose();
    if (shape[0] !== B || shape[1] !== T) throw new ArgumentError(`labels [${shape}] must match inputIds [${B},${T}]`);
    const out = new BigInt64Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[b * T + t] = t + 1 < T ? a[b * T + t + 1] : BigInt(IGNORE_INDEX);
    return Tensor.from(out, [B * T]);
  }

  /** transformers: the last token that is not the pad token (the last position without a pad id). */
  private poolIndex(ids: Tensor): Tensor {
    const pad = this.config.padTokenId;
    if (pad !== null) return lastTokenIndex(ids, pad);
    if (ids.shape[0] !== 1) throw new ConfigError('Cannot handle batch sizes > 1 if no padding token is defined (pad_token_id)');
    return Tensor.from(new BigInt64Array([BigInt(ids.shape[1] - 1)]));
  }

  /** Seeded HF-style init (normal, std initializer_range) of a score head missing from the checkpoint. */
  static initScore(rows: number, cols: number, std: number, seed: number): Tensor {
    const rng = new Rng(seed),
      a = new Float32Array(rows * cols);
    for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
    return Tensor.from(a, [rows, cols]);
  }

  /** set on a view (classifierView): the body is another model's, only the head is this one's */
  private bodyOwner: DecoderModel | null = null;

  /**
   * A sequence classifier with a fresh score head [numLabels, hidden] over this model's body
   * (embeddings, blocks, final norm): the server's classification runs and generation runs on one
   * base share one copy of its weights. Disposing the view frees only its head.
   */
  classifierView(numLabels: number, seed = 42): DecoderModel {
    const c = this.config;
    const w = DecoderModel.initScore(numLabels, c.hidden, Number(c.raw.initializer_range ?? 0.02), seed).moveTo(this.device);
    const view = new DecoderModel(c, 'sequence-classification', this.embed, this.blocks, this.finalNorm, new Linear('score', w, null));
    view.bodyOwner = this;
    view.activations = this.activations;
    view.source = this.source;
    return view;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    this.release();
    releaseDecode(this);
    if (this.bodyOwner) {
      this.head.dispose();
      return;
    }
    this.embed.dispose();
    this.blocks.forEach((b) => b.dispose());
    this.finalNorm.dispose();
    if (!this.config.tieEmbeddings || this.task === 'sequence-classification') this.head.dispose();
  }
}

/** Loads a decoder-only HF model folder as a causal LM or a sequence classifier (see LoadModelOptions). */
export function loadDecoderModel(dir: string, opts: LoadModelOptions = {}): DecoderModel {
  return buildDecoderModel(readConfig(dir), new Checkpoint(dir), opts);
}

/** config.json against the checkpoint's tensors, before anything is allocated: the embedding's
 * [vocab, hidden] and the number of layers the tensor names hold. */
function checkAgainstWeights(cfg: ModelConfig, ck: TensorSource, embed: string): void {
  if (!ck.has(embed)) throw new FormatError(`${ck.dir}: the checkpoint has no tensor '${embed}'`);
  const e = ck.shape(embed);
  if (e.length !== 2 || e[0] !== cfg.vocabSize || e[1] !== cfg.hidden)
    throw new FormatError(`${ck.dir}: '${embed}' is [${e}] but config.json says vocab_size ${cfg.vocabSize}, hidden_size ${cfg.hidden}`);
  if (ck instanceof Checkpoint) {
    let layers = 0;
    for (const n of ck.names()) {
      const m = /(?:^|\.)(?:layers|h)\.(\d+)\./.exec(n);
      if (m) layers = Math.max(layers, Number(m[1]) + 1);
    }
    if (layers !== cfg.layers)
      throw new FormatError(`${ck.dir}: the checkpoint holds ${layers} layers but config.json says num_hidden_layers ${cfg.layers}`);
  }
}

/** A decoder model from a parsed config and the source of its tensors (a checkpoint, or random weights). */
export function buildDecoderModel(cfg: ModelConfig, ck: TensorSource, opts: LoadModelOptions = {}): DecoderModel {
  const dir = ck.dir;
  const task =
    opts.task ??
    (String((cfg.raw.architectures as string[] | undefined)?.[0] ?? '').endsWith('ForSequenceClassification')
      ? 'sequence-classification'
      : 'causal-lm');
  const spec = FAMILIES[cfg.family];
  const quantize = opts.quantize ?? (cfg.quantization?.load_in_4bit ? 'nf4' : null);
  const ld = new ModuleLoader(ck, { ...opts, quantize });
  checkAgainstWeights(cfg, ck, spec.embed);
  // the frozen tables in the activations' dtype, as a bf16 transformers model keeps them: half their
  // memory and half the bytes decoding reads for the LM head (trainAll converts them back to f32)
  const act = opts.activations ?? 'f32';
  const frozen = (t: Tensor): Tensor => (act === 'f32' ? t : convertOwned(t, act));
  const embed = frozen(ld.place(ck.f32(spec.embed)));
  const blocks = Array.from({ length: cfg.layers }, (_, i) => spec.layer(ld, cfg, i));
  const finalNorm = ld.norm(spec.finalNorm, spec.normKind, cfg.normEps, undefined, cfg.hidden);
  let head: Linear;
  if (task === 'causal-lm') {
    const w = `${spec.lmHead}.weight`;
    if (ck.has(w)) ld.expectShape(w, ck.shape(w), [cfg.vocabSize, cfg.hidden]);
    head = ck.has(w)
      ? ld.head(spec.lmHead, w, spec.lmHeadBias)
      : cfg.tieEmbeddings
        ? new Linear(spec.lmHead, embed, null)
        : (() => {
            throw new ConfigError(`${dir}: no ${w} and tie_word_embeddings is false`);
          })();
  } else {
    const labels = opts.numLabels ?? cfg.numLabels;
    if (!Number.isInteger(labels) || labels < 1 || labels > 100_000)
      throw new ConfigError(`loadModel: numLabels must be an integer in 1…100000, got ${labels}`);
    const w =
      ck.has('score.weight') && ck.shape('score.weight').join() === [labels, cfg.hidden].join()
        ? ck.f32('score.weight')
        : DecoderModel.initScore(labels, cfg.hidden, Number(cfg.raw.initializer_range ?? 0.02), opts.seed ?? 42);
    head = new Linear('score', ld.place(w), null);
  }
  if (task === 'causal-lm' && head.weight !== embed && head.weight instanceof Tensor) head.weight = frozen(head.weight);
  const model = new DecoderModel(cfg, task, embed, blocks, finalNorm, head);
  model.activations = opts.activations ?? 'f32';
  if (ck instanceof Checkpoint) model.source = path.resolve(ck.dir);
  return model;
}
