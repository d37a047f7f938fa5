// An HF model folder: model.safetensors or a sharded model.safetensors.index.json, read tensor by
// tensor (positioned reads, so a 7B checkpoint never sits in RAM twice), plus bitsandbytes 4-bit keys.
import fs from 'node:fs';
import path from 'node:path';
import { FormatError, brief, insideDir } from '../errors.js';
import { Tensor } from '../tensor.js';
import { openSafetensors, readTensor, readTensorBytes, type SafetensorsFile } from './safetensors.js';
import { quantStateJSON, type NF4Tensor } from '../ops/nf4.js';

/** Where a model's tensors come from: an HF folder (Checkpoint) or a generator (models/random.ts). */
export interface TensorSource {
  /** names the source in error messages */
  readonly dir: string;
  has(name: string): boolean;
  shape(name: string): number[];
  /** the tensor as stored, on the CPU */
  tensor(name: string): Tensor;
  /** the tensor widened to f32 */
  f32(name: string): Tensor;
  /** is `name` (a `.weight`) a pre-quantized bitsandbytes NF4 weight? */
  isNF4(name: string): boolean;
  nf4(name: string): NF4Tensor;
}

export class Checkpoint implements TensorSource {
  private files = new Map<string, SafetensorsFile>();
  private where = new Map<string, string>();

  constructor(readonly dir: string) {
    const single = path.join(dir, 'model.safetensors');
    const index = path.join(dir, 'model.safetensors.index.json');
    if (fs.existsSync(index)) {
      let map: Record<string, unknown>;
      try {
        map = (JSON.parse(fs.readFileSync(index, 'utf8')) as { weight_map: Record<string, unknown> } | null)?.weight_map as Record<
          string,
          unknown
        >;
      } catch (e) {
        throw new FormatError(`${index}: ${(e as Error).message}`);
      }
      if (!map || typeof map !== 'object' || Array.isArray(map)) throw new FormatError(`${index}: no weight_map object`);
      // shards are files of this folder: a '../' or absolute entry is refused, never opened
      for (const [name, shard] of Object.entries(map))
        this.where.set(name, insideDir(dir, shard as string, `${index}: weight_map['${name}']`));
    } else if (fs.existsSync(single)) {
      const f = openSafetensors(single);
      this.files.set(single, f);
      for (const name of f.tensors.keys()) this.where.set(name, single);
    } else {
      throw new FormatError(`${dir}: no model.safetensors or model.safetensors.index.json`);
    }
  }

  private file(name: string): SafetensorsFile {
    const p = this.where.get(name);
    if (!p) throw new FormatError(`${this.dir}: the checkpoint has no tensor '${name}'`);
    let f = this.files.get(p);
    if (!f) {
      f = openSafetensors(p);
      this.files.set(p, f);
    }
    if (!f.tensors.has(name)) throw new FormatError(`${p}: the index maps '${name}' here but the file lacks it`);
    return f;
  }

  has(name: string): boolean {
    return this.where.has(name);
  }
  names(): string[] {
    return [...this.where.keys()];
  }
  shape(name: string): number[] {
    return this.file(name).tensors.get(name)!.shape;
  }
  dtype(name: string): import('../tensor.js').DType {
    return this.file(name).tensors.get(name)!.dtype;
  }
  /** The stored bytes of one tensor. */
  bytes(name: string): Buffer {
    return readTensorBytes(this.file(name), name);
  }

  /** The tensor as stored (f32/bf16/f16/...), on the CPU. */
  tensor(name: string): Tensor {
    return readTensor(this.file(name), name);
  }

  /** The tensor widened to f32 (norm weights, embeddings, biases). */
  f32(name: string): Tensor {
    const dt = this.dtype(name);
    if (dt !== 'f32' && dt !== 'f16' && dt !== 'bf16')
      throw new FormatError(`${this.where.get(name)}: tensor '${name}' is ${dt}; a float tensor (F32, F16, BF16) is expected`);
    const t = this.tensor(name);
    if (t.dtype === 'f32') return t;
    const out = Tensor.from(t.toFloat32(), t.shape);
    t.dispose();
    return out;
  }

  /** Is `name` (a `.weight`) stored as a bitsandbytes 4-bit weight? */
  isNF4(name: string): boolean {
    return this.has(`${name}.quant_state.bitsandbytes__nf4`);
  }

  /** A pre-quantized bitsandbytes NF4 weight (weight plus absmax, quant_map, nested_absmax, nested_quant_map and quant_state keys). */
  nf4(name: string): NF4Tensor {
    const stateKey = `${name}.quant_state.bitsandbytes__nf4`;
    const bytes = readTensorBytes(this.file(stateKey), stateKey);
    let state: {
      quant_type?: unknown;
      blocksize?: unknown;
      dtype?: unknown;
      shape?: unknown;
      nested_blocksize?: unknown;
      nested_offset?: unknown;
    };
    const where = `${this.where.get(stateKey)}: tensor '${stateKey}'`;
    try {
      state = JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new FormatError(`${where} is not JSON (${(e as Error).message})`);
    }
    if (typeof state !== 'object' || state === null || Array.isArray(state)) throw new FormatError(`${where} is not a JSON object`);
    if (state.quant_type !== 'nf4') throw new FormatError(`${where}: quant_type ${brief(state.quant_type)} is not supported (nf4 only)`);
    // every value is checked against the stored tensors before a kernel sees it
    const int = (v: unknown, lo: number, hi: number) => Number.isSafeInteger(v) && (v as number) >= lo && (v as number) <= hi;
    const bs = state.blocksize,
      shape = state.shape;
    if (!int(bs, 2, 1 << 20) || (bs as number) % 2)
      throw new FormatError(`${where}: blocksize ${brief(bs)} must be an even integer in 2…2^20`);
    if (
      !Array.isArray(shape) ||
      shape.length === 0 ||
      !shape.every((d) => int(d, 0, 2 ** 48)) ||
      shape.reduce((a, b) => a * b, 1) > 2 ** 48
    )
      throw new FormatError(`${where}: shape ${brief(shape)} must be a list of non-negative integers`);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1),
      blocks = Math.ceil(numel / (bs as number));
    const expect = (key: string, n: number) => {
      const s = this.shape(key),
        have = s.reduce((a, b) => a * b, 1);
      if (have !== n)
        throw new FormatError(
          `${this.where.get(key)}: '${key}' has ${have} elements, the quant_state (shape [${shape}], blocksize ${bs}) needs ${n}`,
        );
    };
    expect(name, Math.ceil(numel / 2));
    expect(`${name}.absmax`, blocks);
    expect(`${name}.quant_map`, 16);
    const dq = this.has(`${name}.nested_absmax`);
    const dtype = ({ float32: 'f32', float16: 'f16', bfloat16: 'bf16' } as const)[state.dtype as 'float32'] ?? 'f32';
    const q: NF4Tensor = {
      kind: 'nf4',
      weight: this.tensor(name),
      absmax: this.tensor(`${name}.absmax`),
      quantMap: this.f32(`${name}.quant_map`),
      blocksize: bs as number,
      shape: shape as number[],
      dtype,
      quantState: '',
    };
    if (dq) {
      const nbs = state.nested_blocksize ?? 256,
        off = state.nested_offset ?? 0;
      if (!int(nbs, 1, 1 << 20)) throw new FormatError(`${where}: nested_blocksize ${brief(nbs)} must be an integer in 1…2^20`);
      if (typeof off !== 'number' || !Number.isFinite(off))
        throw new FormatError(`${where}: nested_offset ${brief(off)} must be a finite number`);
      expect(`${name}.nested_absmax`, Math.ceil(blocks / (nbs as number)));
      expect(`${name}.nested_quant_map`, 256);
      q.nestedAbsmax = this.f32(`${name}.nested_absmax`);
      q.nestedQuantMap = this.f32(`${name}.nested_quant_map`);
      q.offset = off;
      q.nestedBlocksize = nbs as number;
    }
    q.quantState = quantStateJSON(q, dq);
    return q;
  }
}
