// PEFT LoRA adapters: adapter_config.json + adapter_model.safetensors, both directions.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, FormatError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { openSafetensors, readTensor } from './safetensors.js';
import { writeSafetensors } from './checkpoint.js';
import { adapterKey, type LoraConfig } from '../models/lora.js';
import type { Model } from '../models/load.js';

/** The fields PEFT 0.21 writes, with our values where they mean something here. */
function adapterConfig(model: Model, c: LoraConfig): Record<string, unknown> {
  const cls = model.task === 'sequence-classification';
  return {
    alora_invocation_tokens: null, alpha_pattern: {}, arrow_config: null, auto_mapping: null,
    base_model_name_or_path: null, bias: 'none', corda_config: null, ensure_weight_tying: false, eva_config: null,
    exclude_modules: null, fan_in_fan_out: false, inference_mode: true, init_lora_weights: true, kasa_config: null,
    layer_replication: null, layers_pattern: null, layers_to_transform: null, loftq_config: {}, lora_alpha: c.alpha,
    lora_bias: false, lora_dropout: c.dropout ?? 0, lora_ga_config: null, megatron_config: null,
    megatron_core: 'megatron.core', modules_to_save: cls ? [...model.modulesToSave().map((m) => m.module), 'classifier', 'score'] : null, monteclora_config: null,
    peft_type: 'LORA', peft_version: '0.21.0', qalora_group_size: 16, r: c.r, rank_pattern: {}, revision: null,
    target_modules: c.targetModules ?? model.defaultTargets, target_parameters: null,
    task_type: cls ? 'SEQ_CLS' : 'CAUSAL_LM', trainable_token_indices: null, use_bdlora: null, use_dora: false,
    use_qalora: false, use_rslora: c.useRslora ?? false, velora_config: null,
  };
}

export function saveAdapter(model: Model, dir: string): void {
  if (!model.lora) throw new ConfigError('saveAdapter: the model has no LoRA adapters (call addLora or loadAdapter first)');
  fs.mkdirSync(dir, { recursive: true });
  const tensors: Record<string, Tensor> = {};
  for (const lin of model.linears()) {
    if (!lin.lora) continue;
    tensors[adapterKey.loraA(lin.name)] = lin.lora.A;
    tensors[adapterKey.loraB(lin.name)] = lin.lora.B;
  }
  for (const m of model.modulesToSave())
    for (const [suffix, t] of Object.entries(m.tensors)) tensors[adapterKey.saved(m.module, suffix)] = t;
  writeSafetensors(path.join(dir, 'adapter_model.safetensors'), tensors);
  const tmp = path.join(dir, `adapter_config.json.tmp-${process.pid}`);
  fs.writeFileSync(tmp, JSON.stringify(adapterConfig(model, model.lora), null, 2) + '\n');
  fs.renameSync(tmp, path.join(dir, 'adapter_config.json'));
}

export function loadAdapter(model: Model, dir: string): void {
  const cfgFile = path.join(dir, 'adapter_config.json');
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${cfgFile}: ${(e as Error).message}`);
  }
  if (c.peft_type !== 'LORA') throw new ConfigError(`${cfgFile}: peft_type ${String(c.peft_type)} is not supported (LORA only)`);
  if (c.use_dora) throw new ConfigError(`${cfgFile}: DoRA adapters are not supported`);
  if (c.bias && c.bias !== 'none') throw new ConfigError(`${cfgFile}: bias '${String(c.bias)}' is not supported (none only)`);
  if (Object.keys((c.rank_pattern as object) ?? {}).length || Object.keys((c.alpha_pattern as object) ?? {}).length)
    throw new ConfigError(`${cfgFile}: rank_pattern / alpha_pattern are not supported`);
  const targets = c.target_modules;
  model.addLora({
    r: c.r as number, alpha: c.lora_alpha as number, dropout: (c.lora_dropout as number) ?? 0,
    targetModules: Array.isArray(targets) ? targets as string[] : undefined, useRslora: c.use_rslora === true,
  });
  const file = path.join(dir, 'adapter_model.safetensors');
  const f = openSafetensors(file);
  const load = (key: string, into: Tensor) => {
    if (!f.tensors.has(key)) throw new FormatError(`${file}: missing '${key}'`);
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
      if (!f.tensors.has(key)) continue;  // PEFT saves the head; an adapter without it keeps the loaded one
      load(key, t);
      used.add(key);
    }
  const extra = [...f.tensors.keys()].filter((k) => !used.has(k));
  if (extra.length) throw new FormatError(`${file}: tensors that match no module of this model: ${extra.slice(0, 5).join(', ')}`);
}
