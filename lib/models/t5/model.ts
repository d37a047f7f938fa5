// T5 (Flan-T5) as an encoder-decoder with an LM head (T5ForConditionalGeneration) or a
// classification head (T5ForSequenceClassification): config → blocks → model, explicit backward.
import path from 'node:path';
import { Tensor, type Device } from '../../tensor.js';
import { ArgumentError, ConfigError } from '../../errors.js';
import { Checkpoint } from '../../io/checkpoint.js';
import { embeddingForward, gatherRowsForward, gatherRowsBackward } from '../../ops/embedding.js';
import { crossEntropyForward, crossEntropyBackward, bceWithLogitsForward, bceWithLogitsBackward, IGNORE_INDEX } from '../../ops/loss.js';
import { tanhForward, tanhBackward, scaleForward, addForward } from '../../ops/activation.js';
import { Rng } from '../../util/random.js';
import { Linear, Norm, type Pass } from '../layers.js';
import { ModuleLoader } from '../module-loader.js';
import { attachLora, peftName, type LoraConfig } from '../lora.js';
import { saveAdapter, loadAdapter } from '../peft.js';
import type { Model } from '../model.js';
import { idsTensor, zeroGrads, labelsTensor } from '../batch.js';
import { type Batch, type Task, type TrainableParam, type LoadModelOptions, type SavedModule, type Ids } from '../model.js';
import { parseT5Config, relativePositionBucket, type T5Config } from './config.js';
import { T5Attention, T5Block, T5FeedForward, type T5Ctx, type T5LayerCache } from './blocks.js';
import { generateT5 } from './generate.js';
import { type GenerateOptions } from '../greedy.js';

/** One stack's relative position table ([buckets, heads], layer 0's) and how it buckets. */
export class RelativeBias {
  constructor(
    readonly table: Float32Array,
    readonly cfg: T5Config,
    readonly bidirectional: boolean,
  ) {}

  /** [H, Tq, Tk] on `device`: query i sits at position offset + i, key j at j. */
  forward(Tq: number, Tk: number, offset = 0, device: Device = 'cpu'): Tensor {
    const H = this.cfg.heads,
      out = new Float32Array(H * Tq * Tk);
    const bucket = new Map<number, number>();
    for (let i = 0; i < Tq; i++)
      for (let j = 0; j < Tk; j++) {
        const rel = j - (offset + i);
        let b = bucket.get(rel);
        if (b === undefined)
          bucket.set(rel, (b = relativePositionBucket(rel, this.bidirectional, this.cfg.numBuckets, this.cfg.maxDistance)));
        for (let h = 0; h < H; h++) out[(h * Tq + i) * Tk + j] = this.table[b * H + h];
      }
    return Tensor.from(out, [H, Tq, Tk]).moveTo(device);
  }
}

export interface T5Stack {
  blocks: T5Block[];
  finalNorm: Norm;
  bias: RelativeBias;
}

export class T5Model implements Model {
  readonly isEncoderDecoder = true;
  /** the model folder it was loaded from (adapters record it as base_model_name_or_path) */
  source: string | null = null;
  lora: LoraConfig | null = null;
  dropoutStep = 0;
  readonly fullTraining = false;
  /** activation checkpointing: keep each layer's input, recompute the layer in backward (same dropout masks) */
  gradientCheckpointing = false;
  /** dtype of the hidden states (LoadModelOptions.activations) */
  activations: 'f32' | 'bf16' | 'f16' = 'f32';
  /** per stack, each layer's input and the context, for recomputing layers in backward */
  private layerInputs: { enc: Tensor[]; dec: Tensor[]; encCtx?: T5Ctx; decCtx?: T5Ctx } = { enc: [], dec: [] };
  private saved: {
    keep: Tensor[];
    enc: Tensor;
    dec: Tensor;
    logits: Tensor;
    targets?: Tensor;
    labels?: Tensor;
    idx?: Tensor;
    cls?: Tensor;
  } | null = null;

  /** `prefix` is 'transformer.' for the classifier (module and PEFT names), '' for the LM. */
  constructor(
    readonly config: T5Config,
    readonly task: Task,
    readonly prefix: string,
    readonly shared: Tensor,
    readonly encoder: T5Stack,
    readonly decoder: T5Stack,
    readonly lmHead: Linear | null,
    readonly classifier: { dense: Linear; outProj: Linear } | null,
  ) {
    this.linears().forEach((l, i) => (l.id = i));
    [...this.heads()].forEach((l, i) => (l.id = 1_000 + i));
  }

  linears(): Linear[] {
    return [...this.encoder.blocks, ...this.decoder.blocks].flatMap((b) => b.linears());
  }
  get device(): Device {
    return this.shared.device;
  }
  private heads(): Linear[] {
    return this.classifier ? [this.classifier.dense, this.classifier.outProj] : [];
  }

  get defaultTargets(): string[] {
    return this.config.gated ? ['q', 'k', 'v', 'o', 'wi_0', 'wi_1', 'wo'] : ['q', 'k', 'v', 'o', 'wi', 'wo'];
  }

  addLora(c: LoraConfig): void {
    if (this.lora) throw new ConfigError('this model already has LoRA adapters');
    const targets = c.targetModules ?? this.defaultTargets;
    const rng = new Rng(c.seed ?? 42);
    let n = 0;
    for (const lin of this.linears()) {
      if (!targets.includes(lin.name.split('.').pop()!)) continue;
      attachLora(lin, c, rng);
      n++;
    }
    if (!n) throw new ConfigError(`no module matches targetModules [${targets.join(', ')}] (T5 has: ${this.defaultTargets.join(', ')})`);
    for (const lin of this.heads()) {
      lin.weightGrad = Tensor.zeros(lin.weight.shape, 'f32', this.device);
      lin.biasGrad = Tensor.zeros([lin.outFeatures], 'f32', this.device);
    }
    this.lora = { ...c, targetModules: targets, dropout: c.dropout ?? 0 };
  }

  trainAll(): void {
    throw new ConfigError('T5: full fine-tuning is not supported (relative position tables and norms stay frozen); use LoRA (addLora)');
  }

  saveWeights(): void {
    throw new ConfigError('T5: saveWeights is for full fine-tuning, which T5 does not support; save the adapter (saveAdapter)');
  }

  modulesToSave(): SavedModule[] {
    if (!this.classifier || !this.classifier.dense.weightGrad) return [];
    const { dense, outProj } = this.classifier;
    return [
      {
        module: 'classification_head',
        tensors: {
          'dense.weight': dense.weight as Tensor,
          'dense.bias': dense.bias!,
          'out_proj.weight': outProj.weight as Tensor,
          'out_proj.bias': outProj.bias!,
        },
      },
    ];
  }

  trainableParameters(): TrainableParam[] {
    const out: TrainableParam[] = [];
    for (const lin of this.linears()) {
      if (!lin.lora) continue;
      out.push({ name: peftName.loraA(lin.name), param: lin.lora.A, grad: lin.lora.gradA });
      out.push({ name: peftName.loraB(lin.name), param: lin.lora.B, grad: lin.lora.gradB });
    }
    if (this.classifier?.dense.weightGrad)
      for (const [key, lin] of [
        ['dense', this.classifier.dense],
        ['out_proj', this.classifier.outProj],
      ] as const) {
        out.push({ name: peftName.saved('classification_head', `${key}.weight`), param: lin.weight as Tensor, grad: lin.weightGrad! });
        out.push({ name: peftName.saved('classification_head', `${key}.bias`), param: lin.bias!, grad: lin.biasGrad! });
      }
    return out;
  }

  zeroGrad(): void {
    zeroGrads(this.trainableParameters());
  }

  saveAdapter(dir: string): void {
    saveAdapter(this, dir);
  }
  loadAdapter(dir: string): void {
    loadAdapter(this, dir);
  }

  /** Greedy decoding: the encoder runs once; the decoder caches self and cross keys/values. Rows start with decoder_start_token_id. */
  generate(batch: Pick<Batch, 'inputIds' | 'attentionMask'>, opts: GenerateOptions): number[][] {
    return generateT5(this, batch, opts);
  }

  /** transformers' _shift_right: decoder_start, then the ids without the last; -100 becomes pad. */
  shiftRight(ids: Tensor): Tensor {
    const [B, T] = ids.shape,
      a = ids.toArray() as BigInt64Array,
      out = new BigInt64Array(B * T);
    const start = BigInt(this.config.decoderStartTokenId),
      pad = BigInt(this.config.padTokenId ?? 0);
    for (let b = 0; b < B; b++) {
      out[b * T] = start;
      for (let t = 1; t < T; t++) {
        const v = a[b * T + t - 1];
        out[b * T + t] = v === BigInt(IGNORE_INDEX) ? pad : v;
      }
    }
    return Tensor.from(out, [B, T]);
  }

  /** The encoder stack: [B, T, C] after its final norm. `keep` collects what backward needs. */
  encode(ids: Tensor, mask: Tensor | null, train: Pass, keep?: Tensor[]): Tensor {
    const [B, T] = ids.shape;
    const bias = this.encoder.bias.forward(T, T, 0, this.device);
    const ctx: T5Ctx = { B, T, train, mask, bias };
    if (train && keep) this.layerInputs.encCtx = ctx;
    const out = this.runStack(this.encoder, embeddingForward(ids, this.shared, this.activations), ctx, keep, this.layerInputs.enc);
    if (keep) keep.push(bias);
    else bias.dispose();
    return out;
  }

  /** The decoder stack over decoder ids (positions from `offset` when decoding with a cache). */
  decode(
    ids: Tensor,
    enc: Tensor,
    encMask: Tensor | null,
    train: Pass,
    o: { keep?: Tensor[]; cache?: T5LayerCache[]; offset?: number } = {},
  ): Tensor {
    const [B, T] = ids.shape,
      off = o.offset ?? 0;
    const bias = this.decoder.bias.forward(T, off + T, off, this.device);
    const ctx: T5Ctx = { B, T, train, mask: null, bias, enc, encMask, cache: o.cache };
    if (train && o.keep) this.layerInputs.decCtx = ctx;
    const out = this.runStack(this.decoder, embeddingForward(ids, this.shared, this.activations), ctx, o.keep, this.layerInputs.dec);
    if (o.keep) o.keep.push(bias);
    else bias.dispose();
    return out;
  }

  private runStack(stack: T5Stack, x: Tensor, ctx: T5Ctx, keep?: Tensor[], inputs?: Tensor[]): Tensor {
    const checkpoint = ctx.train && !!keep && !!inputs && this.gradientCheckpointing;
    if (checkpoint) inputs.length = 0;
    for (const block of stack.blocks) {
      const y = block.forward(x, ctx);
      if (checkpoint) {
        block.release();
        inputs!.push(x);
      }
      if (keep) keep.push(x);
      else x.dispose();
      x = y;
    }
    const out = stack.finalNorm.forward(x, ctx.train);
    if (keep) keep.push(x);
    else x.dispose();
    return out;
  }

  /** LM logits [B, Td, V] of decoder hidden states (× d_model^-½ first when the config says so). */
  lmLogits(dec: Tensor, train: Pass): Tensor {
    if (!this.lmHead) throw new ArgumentError('this T5 model has a classification head, not an LM head');
    if (!this.config.scaleDecoderOutputs) return this.lmHead.forward(dec, train);
    const scaled = scaleForward(dec, this.config.hidden ** -0.5);
    const logits = this.lmHead.forward(scaled, train);
    if (!train) scaled.dispose();
    else this.scaledKeep = scaled;
    return logits;
  }
  private scaledKeep: Tensor | null = null;

  /**
   * Logits and, with labels, the loss. LM: decoder_input_ids (or labels shifted right) → [B, Td, V],
   * cross-entropy on the labels as they are (seq2seq: no shift). Classification: the decoder reads
   * the input shifted right and the last EOS position of each row is pooled.
   */
  forward(batch: Batch, opts: { train?: boolean } = {}): { logits: Tensor; loss?: number } {
    if (this.saved) this.release();
    const train: Pass = opts.train ? { dropoutSeed: ++this.dropoutStep } : false;
    const owned: Tensor[] = []; // made here from the batch's arrays: this forward's to dispose
    const asIds = (x: Ids, what: string) => {
      const t = idsTensor(x, what);
      if (t !== x) owned.push(t);
      return t;
    };
    const ids = asIds(batch.inputIds, 'inputIds');
    const hostMask = batch.attentionMask ? asIds(batch.attentionMask, 'attentionMask') : null;
    // every layer reads the mask: on a GPU it is uploaded once, here
    const mask = hostMask && hostMask.device !== this.device ? hostMask.to(this.device) : hostMask;
    const uploaded = mask !== hostMask ? mask : null;
    const keep: Tensor[] = [];
    const kept = train ? keep : undefined;
    const cls = this.task === 'sequence-classification';
    const idx = cls ? this.eosIndex(ids) : null;
    let decIds: Tensor;
    if (cls) decIds = this.shiftRight(ids);
    else if (batch.decoderInputIds) decIds = asIds(batch.decoderInputIds, 'decoderInputIds').clone();
    else if (batch.labels) decIds = this.shiftRight(asIds(batch.labels as Ids, 'labels'));
    else throw new ArgumentError('T5 forward: give decoderInputIds or labels');
    const enc = this.encode(ids, mask, train, kept);
    const dec = this.decode(decIds, enc, mask, train, { keep: kept });
    let logits: Tensor, loss: number | undefined;
    const s: Partial<NonNullable<T5Model['saved']>> = {};
    if (cls) {
      const pooled = gatherRowsForward(dec, idx!);
      const h = this.classifier!.dense.forward(pooled, train);
      const t = tanhForward(h);
      logits = this.classifier!.outProj.forward(t, train);
      if (train) keep.push(pooled, h);
      else {
        pooled.dispose();
        h.dispose();
      }
      s.cls = t;
      if (batch.labels) {
        const labels = labelsTensor(batch.labels, ids.shape[0], logits.shape[1], this.device);
        loss = bceWithLogitsForward(logits, labels);
        s.labels = labels;
        if (labels !== batch.labels) owned.push(labels); // made here (a tensor given in the batch stays the caller's)
      }
    } else {
      logits = this.lmLogits(dec, train);
      if (batch.labels) {
        const targets = asIds(batch.labels as Ids, 'labels');
        if (targets.shape.join() !== decIds.shape.join())
          throw new ArgumentError(`labels [${targets.shape}] must match the decoder input [${decIds.shape}]`);
        const flat = logits.view([targets.numel, this.config.vocabSize]);
        const t1 = targets.view([targets.numel]);
        loss = crossEntropyForward(flat, t1).loss;
        flat.dispose();
        s.targets = t1;
      }
    }
    if (train) {
      if (this.scaledKeep) {
        keep.push(this.scaledKeep);
        this.scaledKeep = null;
      }
      if (uploaded) keep.push(uploaded);
      keep.push(...owned);
      this.saved = { keep, enc, dec, logits, idx: idx ?? undefined, ...s };
    } else {
      for (const t of [enc, dec, s.cls, s.targets, idx, uploaded, ...owned]) t?.dispose();
    }
    decIds.dispose();
    return { logits, loss };
  }

  backward(scale = 1): void {
    const s = this.saved;
    if (!s) throw new ArgumentError('backward() needs a forward({ train: true }) with labels first');
    let ddec: Tensor;
    if (this.task === 'sequence-classification') {
      if (!s.labels) throw new ArgumentError('backward() needs labels in the forward batch');
      const dlogits = bceWithLogitsBackward(s.logits, s.labels, scale);
      const dt = this.classifier!.outProj.backward(dlogits)!;
      const dh = tanhBackward(dt, s.cls!);
      const dpooled = this.classifier!.dense.backward(dh)!;
      ddec = gatherRowsBackward(dpooled, s.idx!, s.dec.shape);
      for (const t of [dlogits, dt, dh, dpooled]) t.dispose();
    } else {
      if (!s.targets) throw new ArgumentError('backward() needs labels in the forward batch');
      const flat = s.logits.view([s.targets.numel, this.config.vocabSize]);
      const dlogits = crossEntropyBackward(flat, s.targets, scale);
      flat.dispose();
      const dlog3 = dlogits.reshaped(s.logits.shape);
      ddec = this.lmHead!.backward(dlog3)!;
      dlog3.dispose();
      if (this.config.scaleDecoderOutputs) scaleForward(ddec, this.config.hidden ** -0.5, ddec);
    }
    // decoder, collecting the cross-attention gradients into the encoder output
    let dx = this.decoder.finalNorm.backward(ddec);
    ddec.dispose();
    const denc = Tensor.zeros(s.enc.shape, s.enc.dtype, this.device);
    const li = this.layerInputs;
    // checkpointing: layer i runs again on its saved input (this step's dropout masks) before its backward
    const recompute = (block: T5Block, x: Tensor | undefined, ctx: T5Ctx | undefined) => {
      if (!this.gradientCheckpointing || !x || !ctx) return;
      block.forward(x, ctx).dispose(); // ctx carries this step's pass: the same dropout masks
    };
    for (let i = this.decoder.blocks.length - 1; i >= 0; i--) {
      recompute(this.decoder.blocks[i], li.dec[i], li.decCtx);
      const r = this.decoder.blocks[i].backward(dx);
      dx.dispose();
      dx = r.dx;
      if (r.denc) {
        addForward(denc, r.denc, denc);
        r.denc.dispose();
      }
    }
    dx.dispose(); // the embeddings are frozen
    dx = this.encoder.finalNorm.backward(denc);
    denc.dispose();
    for (let i = this.encoder.blocks.length - 1; i >= 0; i--) {
      recompute(this.encoder.blocks[i], li.enc[i], li.encCtx);
      const r = this.encoder.blocks[i].backward(dx);
      dx.dispose();
      dx = r.dx;
    }
    dx.dispose();
    this.release();
  }

  release(): void {
    const s = this.saved;
    if (!s) return;
    this.saved = null;
    for (const st of [this.encoder, this.decoder]) {
      st.blocks.forEach((b) => b.release());
      st.finalNorm.release();
    }
    [this.lmHead, ...this.heads()].forEach((l) => l?.release());
    this.layerInputs = { enc: [], dec: [] };
    for (const t of [...s.keep, s.enc, s.dec, s.logits, s.targets, s.idx, s.cls]) t?.dispose();
  }

  /** transformers: every row needs the same number of EOS tokens; the last one is pooled. */
  private eosIndex(ids: Tensor): Tensor {
    const eos = this.config.eosTokenId;
    if (eos === null) throw new ConfigError('T5 sequence classification needs eos_token_id in config.json');
    const [B, T] = ids.shape,
      a = ids.toArray() as BigInt64Array,
      idx = new BigInt64Array(B);
    const counts: number[] = [];
    for (let b = 0; b < B; b++) {
      let n = 0,
        last = -1;
      for (let t = 0; t < T; t++)
        if (a[b * T + t] === BigInt(eos)) {
          n++;
          last = t;
        }
      counts.push(n);
      idx[b] = BigInt(last);
    }
    if (counts[0] === 0)
      throw new ArgumentError(`T5 sequence classification: every input row must end with the EOS token (id ${eos}); row 0 has none`);
    if (counts.some((n) => n !== counts[0]))
      throw new ArgumentError(
        `T5 sequence classification: all examples must have the same number of <eos> tokens (id ${eos}), got [${counts}]`,
      );
    return Tensor.from(idx, [B]);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    this.release();
    this.shared.dispose();
    for (const st of [this.encoder, this.decoder]) {
      st.blocks.forEach((b) => b.dispose());
      st.finalNorm.dispose();
    }
    if (this.lmHead && this.lmHead.weight !== this.shared) this.lmHead.dispose();
    this.heads().forEach((l) => l.dispose());
  }
}

function initNormal(rows: number, cols: number, std: number, rng: Rng): Tensor {
  const a = new Float32Array(rows * cols);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
  return Tensor.from(a, [rows, cols]);
}

/** Loads a T5 folder (T5ForConditionalGeneration or T5ForSequenceClassification checkpoint) for either task. */
export function loadT5Model(dir: string, raw: Record<string, unknown>, file: string, opts: LoadModelOptions = {}): T5Model {
  const cfg = parseT5Config(raw, file);
  const task =
    opts.task ??
    (String((raw.architectures as string[] | undefined)?.[0] ?? '').endsWith('ForSequenceClassification')
      ? 'sequence-classification'
      : 'causal-lm');
  const ck = new Checkpoint(dir);
  const ckp = ck.has('shared.weight') ? '' : ck.has('transformer.shared.weight') ? 'transformer.' : null;
  if (ckp === null) throw new ConfigError(`${dir}: no shared.weight (or transformer.shared.weight): not a T5 checkpoint`);
  const mp = task === 'sequence-classification' ? 'transformer.' : '';
  const quantize = opts.quantize ?? (cfg.quantization?.load_in_4bit ? 'nf4' : null);
  const ld = new ModuleLoader(ck, { ...opts, quantize });
  const lin = (n: string) => ld.linear(ckp + n, false, mp + n);
  const norm = (n: string) => ld.norm(ckp + n, 'rms', cfg.normEps, mp + n);
  const attn = (p: string, cross: boolean, i: number) =>
    new T5Attention(cfg, { q: lin(`${p}.q`), k: lin(`${p}.k`), v: lin(`${p}.v`), o: lin(`${p}.o`) }, cross, i);
  const ff = (p: string) =>
    new T5FeedForward(
      cfg,
      cfg.gated
        ? { wi0: lin(`${p}.wi_0`), wi1: lin(`${p}.wi_1`), wo: lin(`${p}.wo`) }
        : { wi0: lin(`${p}.wi`), wi1: null, wo: lin(`${p}.wo`) },
    );
  const table = (stack: string) => {
    const t = ck.f32(`${ckp}${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`);
    if (t.shape[0] !== cfg.numBuckets || t.shape[1] !== cfg.heads)
      throw new ConfigError(`${dir}: ${stack} relative_attention_bias is [${t.shape}], expected [${cfg.numBuckets},${cfg.heads}]`);
    const a = t.toFloat32();
    t.dispose();
    return a;
  };
  const encBlocks = Array.from({ length: cfg.layers }, (_, i) => {
    const p = `encoder.block.${i}.layer`;
    return new T5Block(
      attn(`${p}.0.SelfAttention`, false, i),
      norm(`${p}.0.layer_norm`),
      null,
      null,
      ff(`${p}.1.DenseReluDense`),
      norm(`${p}.1.layer_norm`),
    );
  });
  const decBlocks = Array.from({ length: cfg.decoderLayers }, (_, i) => {
    const p = `decoder.block.${i}.layer`;
    return new T5Block(
      attn(`${p}.0.SelfAttention`, false, i),
      norm(`${p}.0.layer_norm`),
      attn(`${p}.1.EncDecAttention`, true, i),
      norm(`${p}.1.layer_norm`),
      ff(`${p}.2.DenseReluDense`),
      norm(`${p}.2.layer_norm`),
    );
  });
  const shared = ld.place(ck.f32(`${ckp}shared.weight`));
  const encoder: T5Stack = {
    blocks: encBlocks,
    finalNorm: norm('encoder.final_layer_norm'),
    bias: new RelativeBias(table('encoder'), cfg, true),
  };
  const decoder: T5Stack = {
    blocks: decBlocks,
    finalNorm: norm('decoder.final_layer_norm'),
    bias: new RelativeBias(table('decoder'), cfg, false),
  };
  let lmHead: Linear | null = null,
    classifier: T5Model['classifier'] = null;
  if (task === 'causal-lm') {
    // a stored lm_head is the trained projection (Flan-T5 is untied), whatever the tie flag says
    lmHead = ck.has('lm_head.weight') ? ld.head('lm_head', 'lm_head.weight', false) : new Linear('lm_head', shared, null);
  } else {
    const labels = opts.numLabels ?? cfg.numLabels,
      C = cfg.hidden;
    const has = ck.has('classification_head.out_proj.weight') && ck.shape('classification_head.out_proj.weight')[0] === labels;
    if (has) {
      classifier = {
        dense: ld.head('classification_head.dense', 'classification_head.dense.weight', true),
        outProj: ld.head('classification_head.out_proj', 'classification_head.out_proj.weight', true),
      };
    } else {
      // transformers' init: normal(0, factor · d_model^-½) weights, zero biases
      const rng = new Rng(opts.seed ?? 42),
        std = Number(raw.initializer_factor ?? 1) * C ** -0.5;
      classifier = {
        dense: new Linear('classification_head.dense', ld.place(initNormal(C, C, std, rng)), ld.place(Tensor.zeros([C]))),
        outProj: new Linear('classification_head.out_proj', ld.place(initNormal(labels, C, std, rng)), ld.place(Tensor.zeros([labels]))),
      };
    }
  }
  const model = new T5Model(cfg, task, mp, shared, encoder, decoder, lmHead, classifier);
  model.activations = opts.activations ?? 'f32';
  model.source = path.resolve(dir);
  return model;
}
