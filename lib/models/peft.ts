// PEFT LoRA adapters: adapter_config.json + adapter_model.safetensors, both directions.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, FormatError, PlfError, brief } from '../errors.js';
import { Tensor } from '../tensor.js';
import { openSafetensors, readTensor } from '../io/safetensors.js';
import { writeSafetensors } from '../io/safetensors.js';
import { io, writeFileAtomic } from '../io/files.js';
import { adapterKey, type LoraConfig } from './lora.js';
import type { Model } from './model.js';

/** The fields PEFT 0.21 writes, with our values where they mean something here. */
function adapterConfig(model: Model, c: LoraConfig): Record<string, unknown> {
  const cls = model.task === 'sequence-classification';
  return {
    alora_invocation_tokens: null,
    alpha_pattern: {},
    arrow_config: null,
    auto_mapping: null,
    base_model_name_or_path: model.source,
    bias: 'none',
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    kasa_config: null,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: c.alpha,
    lora_bias: false,
    lora_dropout: c.dropout ?? 0,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: cls ? [...model.modulesToSave().map((m) => m.module), 'classifier', 'score'] : null,
    monteclora_config: null,
    peft_type: 'LORA',
    peft_version: '0.21.0',
    qalora_group_size: 16,
    r: c.r,
    rank_pattern: {},
    revision: null,
    target_modules: c.targetModules ?? model.defaultTargets,
    target_parameters: null,
    task_type: cls ? 'SEQ_CLS' : 'CAUSAL_LM',
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: false,
    use_qalora: false,
    use_rslora: c.useRslora ?? false,
    velora_config: null,
  };
}

export function saveAdapter(model: Model, dir: string): void {
  if (!model.lora) throw new ConfigError('saveAdapter: the model has no LoRA adapters (call addLora or loadAdapter first)');
  io('create', dir, () => fs.mkdirSync(dir, { recursive: true }));
  const tensors: Record<string, Tensor> = {};
  for (const lin of model.linears()) {
    if (!lin.lora) continue;
    tensors[adapterKey.loraA(lin.name)] = lin.lora.A;
    tensors[adapterKey.loraB(lin.name)] = lin.lora.B;
  }
  for (const m of model.modulesToSave())
    for (const [suffix, t] of Object.entries(m.tensors)) tensors[adapterKey.saved(m.module, suffix)] = t;
  writeSafetensors(path.join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' }); // as peft writes it
  writeFileAtomic(path.join(dir, 'adapter_config.json'), JSON.stringify(adapterConfig(model, model.lora), null, 2) + '\n');
}

export function loadAdapter(model: Model, dir: string): void {
  const cfgFile = path.join(dir, 'adapter_config.json');
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${cfgFile}: ${(e as Error).message}`);
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new ConfigError(`${cfgFile}: must hold a JSON object`);
  if (c.peft_type !== 'LORA') throw new ConfigError(`${cfgFile}: peft_type ${brief(c.peft_type)} is not supported (LORA only)`);
  if (c.use_dora) throw new ConfigError(`${cfgFile}: DoRA adapters are not supported`);
  if (c.bias && c.bias !== 'none') throw new ConfigError(`${cfgFile}: bias ${brief(c.bias)} is not supported (none only)`);
  if (Object.keys((c.rank_pattern as object) ?? {}).length || Object.keys((c.alpha_pattern as object) ?? {}).length)
    throw new ConfigError(`${cfgFile}: rank_pattern / alpha_pattern are not supported`);
  const targets = c.target_modules;
  const r = c.r,
    alpha = c.lora_alpha,
    dropout = c.lora_dropout ?? 0;
  if (!Number.isInteger(r) || (r as number) < 1 || (r as number) > 65536)
    throw new ConfigError(`${cfgFile}: r must be an integer in 1…65536, got ${brief(r)}`);
  if (typeof alpha !== 'number' || !Number.isFinite(alpha))
    throw new ConfigError(`${cfgFile}: lora_alpha must be a finite number, got ${brief(alpha)}`);
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1))
    throw new ConfigError(`${cfgFile}: lora_dropout must be in [0, 1), got ${brief(dropout)}`);
  if (
    targets !== undefined &&
    targets !== null &&
    typeof targets !== 'string' &&
    !(Array.isArray(targets) && targets.every((t) => typeof t === 'string'))
  )
    throw new ConfigError(`${cfgFile}: target_modules must be a list of module names, got ${brief(targets)}`);
  const file = path.join(dir, 'adapter_model.safetensors');
  const f = openSafetensors(file);
  // the weights' rank must be the config's before any adapter is allocated (r sizes every A and B)
  for (const [key, e] of f.tensors) {
    const rank = key.includes('.lora_A.') ? e.shape[0] : key.includes('.lora_B.') ? e.shape[1] : undefined;
    if (rank !== undefined && (e.shape.length !== 2 || rank !== r))
      throw new FormatError(`${file}: '${key}' is [${e.shape}] but ${cfgFile} says r = ${String(r)}`);
  }
  try {
    model.addLora({
      r: r as number,
      alpha,
      dropout,
      targetModules: Array.isArray(targets) ? (targets as string[]) : undefined,
      useRslora: c.use_rslora === true,
    });
  } catch (e) {
    if (e instanceof PlfError) throw new ConfigError(`${cfgFile}: ${e.message}`);
    throw e;
  }
  const load = (key: string, into: Tensor) => {
    if (!f.tensors.has(key)) throw new FormatError(`${file}: missing '${key}'`);
    const dt = f.tensors.get(key)!.dtype;
    if (dt !== 'f32' && dt !== 'f16' && dt !== 'bf16') throw new FormatError(`${file}: '${key}' is ${dt}; a float tensor is expected`);
    const t = readTensor(f, key);
    if (t.shape.join() !== into.shape.join())
      throw new FormatError(`${file}: '${key}' is [${t.shape}] but the model expects [${into.shape}]`);
    into.copyFrom(t.dtype === 'f32' ? t : Tensor.from(t.toFloat32(), t.shape));
    t.dispose();
  };
  const used = new Set<string>();
  for (const lin of model.linears()) {
    if (!lin.lora) continue;
    load(adapterKey.loraA(lin.name), lin.lora.A);
    load(adapterKey.loraB(lin.name), lin.lora.B);
    used.add(adapterKey.loraA(lin.name)).add(adapterKey.loraB(lin.name));
  }
  for (const m of model.modulesToSave())
    for (const [suffix, t] of Object.entries(m.tensors)) {
      const key = adapterKey.saved(m.module, suffix);
      if (!f.tensors.has(key)) continue; // PEFT saves the head; an adapter without it keeps the loaded one
      load(key, t);
      used.add(key);
    }
  const extra = [...f.tensors.keys()].filter((k) => !used.has(k));
  if (extra.length) throw new FormatError(`${file}: tensors that match no module of this model: ${extra.slice(0, 5).join(', ')}`);
}
