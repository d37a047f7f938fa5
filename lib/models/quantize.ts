// An HF checkpoint → a bitsandbytes-format NF4 checkpoint (what transformers writes for a
// load_in_4bit model), streamed tensor by tensor.
import fs from 'node:fs';
import path from 'node:path';
import { Checkpoint, writeSafetensorsStream, tensorBytes, type PlannedTensor } from '../io/checkpoint.js';
import { quantizeNF4, disposeNF4, type NF4Tensor } from '../ops/nf4.js';
import { readConfig } from './config.js';
import { FAMILIES } from './family.js';

export interface QuantizeCheckpointOptions { blocksize?: number; doubleQuant?: boolean }

/** Is this checkpoint tensor a layer linear that QLoRA keeps in NF4 (every linear but the head)? */
export function isQuantizable(name: string, targets: string[], shape: number[]): boolean {
  const parts = name.split('.');
  return shape.length === 2 && parts.pop() === 'weight' && targets.includes(parts.pop()!) && name.includes('.layers.');
}

export function quantizeCheckpoint(src: string, out: string, opts: QuantizeCheckpointOptions = {}): { quantized: number; bytes: number } {
  const cfg = readConfig(src);
  const spec = FAMILIES[cfg.family];
  const ck = new Checkpoint(src);
  const blocksize = opts.blocksize ?? 64, doubleQuant = opts.doubleQuant ?? true;
  fs.mkdirSync(out, { recursive: true });
  const plan: PlannedTensor[] = [];
  let quantized = 0;
  let current: { name: string; q: NF4Tensor } | null = null;
  // quantize lazily when the first of a weight's parts is written; the parts are adjacent in name order
  const part = (name: string, pick: (q: NF4Tensor) => Uint8Array) => () => {
    if (current?.name !== name) {
      if (current) disposeNF4(current.q);
      const t = ck.tensor(name);
      current = { name, q: quantizeNF4(t, undefined, { blocksize, doubleQuant }) };
      t.dispose();
    }
    return pick(current.q);
  };
  for (const name of ck.names()) {
    const shape = ck.shape(name);
    if (!isQuantizable(name, spec.targets, shape)) {
      plan.push({ name, dtype: ck.dtype(name), shape, bytes: () => ck.bytes(name) });
      continue;
    }
    quantized++;
    const n = shape[0] * shape[1], nb = Math.ceil(n / blocksize);
    const state = Buffer.byteLength(quantStateFor(name, shape, blocksize, doubleQuant, ck));
    plan.push({ name, dtype: 'u8', shape: [Math.ceil(n / 2), 1], bytes: part(name, (q) => tensorBytes(q.weight)) });
    plan.push({ name: `${name}.absmax`, dtype: doubleQuant ? 'u8' : 'f32', shape: [nb], bytes: part(name, (q) => tensorBytes(q.absmax)) });
    plan.push({ name: `${name}.quant_map`, dtype: 'f32', shape: [16], bytes: part(name, (q) => tensorBytes(q.quantMap)) });
    plan.push({ name: `${name}.quant_state.bitsandbytes__nf4`, dtype: 'u8', shape: [state],
      bytes: part(name, (q) => new Uint8Array(Buffer.from(q.quantState, 'utf8'))) });
    if (doubleQuant) {
      plan.push({ name: `${name}.nested_absmax`, dtype: 'f32', shape: [Math.ceil(nb / 256)], bytes: part(name, (q) => tensorBytes(q.nestedAbsmax!)) });
      plan.push({ name: `${name}.nested_quant_map`, dtype: 'f32', shape: [256], bytes: part(name, (q) => tensorBytes(q.nestedQuantMap!)) });
    }
  }
  const file = path.join(out, 'model.safetensors');
  writeSafetensorsStream(file, plan, { format: 'pt' });
  if (current) disposeNF4((current as { q: NF4Tensor }).q);
  const raw = { ...cfg.raw };
  raw.quantization_config = {
    _load_in_4bit: true, _load_in_8bit: false, bnb_4bit_compute_dtype: 'float32', bnb_4bit_quant_storage: 'uint8',
    bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: doubleQuant, llm_int8_enable_fp32_cpu_offload: false,
    llm_int8_has_fp16_weight: false, llm_int8_skip_modules: null, llm_int8_threshold: 6.0, load_in_4bit: true,
    load_in_8bit: false, quant_method: 'bitsandbytes',
  };
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify(raw, null, 2) + '\n');
  for (const extra of ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'])
    if (fs.existsSync(path.join(src, extra))) fs.copyFileSync(path.join(src, extra), path.join(out, extra));
  return { quantized, bytes: fs.statSync(file).size };
}

/** The quant_state JSON's byte length must be known before quantizing: only nested_offset varies. */
function quantStateFor(name: string, shape: number[], blocksize: number, dq: boolean, ck: Checkpoint): string {
  // quantizing twice would cost a full pass; the offset is a float whose repr length varies, so
  // compute it exactly on this one tensor (cheap next to writing it)
  const t = ck.tensor(name);
  const q = quantizeNF4(t, undefined, { blocksize, doubleQuant: dq });
  t.dispose();
  const s = q.quantState;
  disposeNF4(q);
  void shape;
  return s;
}
