// loadModel: an HF model folder → the decoder-only engine (llama, mistral, qwen2, phi, gpt_neox)
// or the encoder-decoder one (t5), by config.json's model_type.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, DeviceError } from '../errors.js';
import { loadDecoderModel, DecoderModel } from './decoder/model.js';
import { loadT5Model, T5Model } from './t5/model.js';
import type { LoadModelOptions } from './model.js';
import { info } from '../info.js';

/** The concrete models loadModel returns (both implement Model, models/model.ts). */
export type LoadedModel = DecoderModel | T5Model;

export function loadModel(dir: string, opts: LoadModelOptions = {}): LoadedModel {
  if (opts.device === 'cuda') {
    const c = info().cuda;
    if (!c.usable) throw new DeviceError(`loadModel: device 'cuda' asked for, but ${c.reason}; use device 'cpu'`);
  }
  const file = path.join(dir, 'config.json');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message}`);
  }
  return (raw as Record<string, unknown> | null)?.model_type === 't5' ? loadT5Model(dir, raw, file, opts) : loadDecoderModel(dir, opts);
}

export { DecoderModel, T5Model };
