// Builds modules from checkpoint tensors: quantizing LoRA-target linears to NF4 as they stream in.
import type { TensorSource } from '../io/checkpoint.js';
import { quantizeNF4, nf4To, disposeNF4, isNF4 } from '../ops/nf4.js';
import { convert } from '../ops/convert.js';
import type { Device } from '../tensor.js';
import { Tensor } from '../tensor.js';
import { Linear, Norm } from './layers.js';
import type { Weight } from '../ops/linear.js';
import { FormatError } from '../errors.js';

export interface LoadOptions {
  /** where the weights live and the model runs (default 'cpu') */
  device?: Device;
  /** 'nf4': quantize every linear but the head (blocksize 64, double quant) while loading */
  quantize?: 'nf4' | null;
  blocksize?: number;
  doubleQuant?: boolean;
}

export class ModuleLoader {
  constructor(
    readonly ck: TensorSource,
    readonly opts: LoadOptions,
  ) {}

  /** A frozen body linear (a LoRA target): NF4 when asked or when stored pre-quantized; `as` names the module when it differs from the checkpoint's key. */
  linear(name: string, bias: boolean, as = name, expect?: [number, number]): Linear {
    const wname = `${name}.weight`;
    if (expect) this.expectShape(wname, this.ck.isNF4(wname) ? null : this.ck.shape(wname), expect);
    let w: Weight;
    if (this.ck.isNF4(wname)) {
      w = this.ck.nf4(wname);
    } else if (this.opts.quantize === 'nf4') {
      const t = this.onDeviceF32(this.ck.tensor(wname));
      w = quantizeNF4(t, undefined, { blocksize: this.opts.blocksize ?? 64, doubleQuant: this.opts.doubleQuant ?? true });
      t.dispose();
    } else {
      w = this.ck.tensor(wname);
      if (w.dtype !== 'f32' && w.dtype !== 'bf16' && w.dtype !== 'f16')
        throw new FormatError(`${this.ck.dir}: ${wname} has dtype ${w.dtype}; expected f32, bf16 or f16`);
    }
    if (expect && isNF4(w)) this.expectShape(wname, w.shape, expect);
    if (expect && bias) this.expectShape(`${name}.bias`, this.ck.shape(`${name}.bias`), [expect[0]]);
    return new Linear(as, this.place(w), bias ? this.place(this.ck.f32(`${name}.bias`)) : null);
  }

  /** A stored shape against what config.json implies: a contradiction is refused before it reaches a kernel. */
  expectShape(name: string, shape: number[] | null, expect: number[]): void {
    if (shape && shape.join() !== expect.join())
      throw new FormatError(`${this.ck.dir}: '${name}' is [${shape}] but config.json implies [${expect}]`);
  }

  /** A loaded tensor or NF4 weight on the model's device (the host copy is freed). */
  place<T extends Weight>(w: T): T {
    const d = this.opts.device ?? 'cpu';
    if (isNF4(w)) {
      if (w.weight.device === d) return w;
      const moved = nf4To(w, d);
      disposeNF4(w);
      return moved as T;
    }
    return (w as Tensor).moveTo(d) as T;
  }

  /** On a GPU, a weight to quantize goes there first (as f32): the device writes the CPU's NF4 bytes, faster. */
  private onDeviceF32(t: Tensor): Tensor {
    if ((this.opts.device ?? 'cpu') === 'cpu') return t;
    const d = t.moveTo(this.opts.device!);
    if (d.dtype === 'f32') return d;
    const f = convert(d, 'f32');
    d.dispose();
    return f;
  }

  /** The head (never quantized), in f32. */
  head(name: string, weightName: string, bias: boolean): Linear {
    return new Linear(name, this.place(this.ck.f32(weightName)), bias ? this.place(this.ck.f32(`${name}.bias`)) : null);
  }

  norm(name: string, kind: 'rms' | 'layer', eps: number, as = name, size?: number): Norm {
    if (size !== undefined) {
      this.expectShape(`${name}.weight`, this.ck.shape(`${name}.weight`), [size]);
      if (kind === 'layer') this.expectShape(`${name}.bias`, this.ck.shape(`${name}.bias`), [size]);
    }
    return new Norm(
      kind,
      this.place(this.ck.f32(`${name}.weight`)),
      kind === 'layer' ? this.place(this.ck.f32(`${name}.bias`)) : null,
      eps,
      as,
    );
  }
}
