// An HF checkpoint → a bitsandbytes-format NF4 checkpoint (what transformers writes for a
// load_in_4bit model), streamed tensor by tensor.
import fs from 'node:fs';
import path from 'node:path';
import { Checkpoint } from '../io/checkpoint.js';
import { writeSafetensorsStream, tensorBytes, type PlannedTensor } from '../io/safetensors.js';
import { quantizeNF4, disposeNF4 } from '../ops/nf4.js';
import type { Tensor } from '../tensor.js';
import { readConfig } from './decoder/config.js';
import { FAMILIES } from './decoder/families/index.js';
import { io, writeFileAtomic } from '../io/files.js';

export interface QuantizeCheckpointOptions {
  blocksize?: number;
  doubleQuant?: boolean;
}

/** Is this checkpoint tensor a layer linear that QLoRA keeps in NF4 (every linear but the head)? */
export function isQuantizable(name: string, targets: string[], shape: number[]): boolean {
  const parts = name.split('.');
  return shape.length === 2 && parts.pop() === 'weight' && targets.includes(parts.pop()!) && name.includes('.layers.');
}

export function quantizeCheckpoint(src: string, out: string, opts: QuantizeCheckpointOptions = {}): { quantized: number; bytes: number } {
  const cfg = readConfig(src);
  const spec = FAMILIES[cfg.family];
  const ck = new Checkpoint(src);
  const blocksize = opts.blocksize ?? 64,
    doubleQuant = opts.doubleQuant ?? true;
  io('create', out, () => fs.mkdirSync(out, { recursive: true }));
  const plan: PlannedTensor[] = [];
  let quantized = 0;
  // Each weight is quantized once while planning (the header needs the quant_state's exact byte
  // length, which depends on the nested offset); its parts are released after the last is written.
  for (const name of ck.names()) {
    const shape = ck.shape(name);
    if (!isQuantizable(name, spec.targets, shape)) {
      plan.push({ name, dtype: ck.dtype(name), shape, bytes: () => ck.bytes(name) });
      continue;
    }
    quantized++;
    const t = ck.tensor(name);
    const q = quantizeNF4(t, undefined, { blocksize, doubleQuant });
    t.dispose();
    const parts: [string, Tensor | string][] = [
      [name, q.weight],
      [`${name}.absmax`, q.absmax],
      [`${name}.quant_map`, q.quantMap],
      [`${name}.quant_state.bitsandbytes__nf4`, q.quantState],
      ...(doubleQuant
        ? ([
            [`${name}.nested_absmax`, q.nestedAbsmax!],
            [`${name}.nested_quant_map`, q.nestedQuantMap!],
          ] as [string, Tensor][])
        : []),
    ];
    let left = parts.length;
    for (const [pname, v] of parts) {
      const isState = typeof v === 'string';
      const tensor = v as Tensor;
      plan.push({
        name: pname,
        dtype: isState ? 'u8' : tensor.dtype,
        shape: isState ? [Buffer.byteLength(v)] : [...tensor.shape],
        bytes: () => {
          const b = isState ? new Uint8Array(Buffer.from(v, 'utf8')) : tensorBytes(tensor);
          if (--left === 0) disposeNF4(q);
          return b;
        },
      });
    }
  }
  const file = path.join(out, 'model.safetensors');
  writeSafetensorsStream(file, plan, { format: 'pt' });
  const raw = { ...cfg.raw };
  raw.quantization_config = {
    _load_in_4bit: true,
    _load_in_8bit: false,
    bnb_4bit_compute_dtype: 'float32',
    bnb_4bit_quant_storage: 'uint8',
    bnb_4bit_quant_type: 'nf4',
    bnb_4bit_use_double_quant: doubleQuant,
    llm_int8_enable_fp32_cpu_offload: false,
    llm_int8_has_fp16_weight: false,
    llm_int8_skip_modules: null,
    llm_int8_threshold: 6.0,
    load_in_4bit: true,
    load_in_8bit: false,
    quant_method: 'bitsandbytes',
  };
  writeFileAtomic(path.join(out, 'config.json'), JSON.stringify(raw, null, 2) + '\n');
  for (const extra of ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'])
    if (fs.existsSync(path.join(src, extra))) fs.copyFileSync(path.join(src, extra), path.join(out, extra));
  return { quantized, bytes: fs.statSync(file).size };
}
