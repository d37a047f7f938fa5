// The trainable building blocks: Linear (frozen weight of any dtype/NF4, optional LoRA, optional
// trainable weight) and Norm. Each keeps what its backward needs from the last forward.
import { Tensor, type Device } from '../tensor.js';
import { disposeNF4, isNF4 } from '../ops/nf4.js';
import {
  linearForward,
  linearForwardMany,
  linearBackward,
  loraLinearForward,
  loraLinearBackward,
  type InferenceLinear,
  type Weight,
} from '../ops/linear.js';
import { rmsnormForward, rmsnormBackward, layernormForward, layernormBackward } from '../ops/norm.js';
import { addForward } from '../ops/activation.js';

export interface LoraState {
  A: Tensor; // [r, in]
  B: Tensor; // [out, r]
  gradA: Tensor;
  gradB: Tensor;
  scale: number;
  dropout: number;
}

/**
 * One training forward pass, carried in the per-forward context (false: inference). Dropout masks
 * are a hash of (seed, element) with the seed (dropoutSeed, layer id): a resumed run draws exactly
 * the masks an uninterrupted one would, and a recomputed layer (checkpointing) the same masks again.
 */
export type Pass = false | { readonly dropoutSeed: number };

export class Linear {
  lora: LoraState | null = null;
  /** set for fully trainable layers (the score head): dW accumulates here */
  weightGrad: Tensor | null = null;
  /** with weightGrad, for layers with a bias (T5's classification head) */
  biasGrad: Tensor | null = null;
  private saved: { x: Tensor; xa: Tensor | null; seed: number } | null = null;
  /** position among the model's linears (set by the model), part of the dropout seed */
  id = 0;

  constructor(
    readonly name: string,
    public weight: Weight,
    public bias: Tensor | null,
  ) {}

  get outFeatures(): number {
    return this.weight.shape[0];
  }
  get device(): Device {
    return isNF4(this.weight) ? this.weight.weight.device : this.weight.device;
  }
  get inFeatures(): number {
    return this.weight.shape[1];
  }

  /**
   * y = x·Wᵀ + b (+ LoRA). With `train`, x (and the LoRA intermediate) are kept for backward; with
   * `into` (inference: the residual stream), into += that and `into` is returned.
   */
  forward(x: Tensor, train: Pass, into?: Tensor): Tensor {
    if (!this.lora) {
      if (train) this.saved = { x, xa: null, seed: 0 };
      return linearForward(x, this.weight, this.bias, into);
    }
    const seed = train ? train.dropoutSeed * 4096 + this.id + 1 : 0;
    const l = this.lora;
    const { y, xa } = loraLinearForward(
      x,
      this.weight,
      this.bias,
      {
        A: l.A,
        B: l.B,
        scale: l.scale,
        dropout: train ? l.dropout : 0,
        seed,
      },
      into,
    );
    if (train) this.saved = { x, xa, seed };
    else xa.dispose();
    return y;
  }

  /** What an inference forward runs (the adapter without dropout): for the fused decoding kernels. */
  get inference(): InferenceLinear {
    const l = this.lora;
    return { weight: this.weight, bias: this.bias, lora: l ? { A: l.A, B: l.B, scale: l.scale } : null };
  }

  /**
   * Several linears of one input (q/k/v, gate/up): in inference one call for all (one launch at
   * decoding on CUDA, LoRA adapters included, see linearForwardMany), in training each forward on
   * its own.
   */
  static forwardMany(x: Tensor, linears: Linear[], train: Pass): Tensor[] {
    if (train) return linears.map((l) => l.forward(x, train));
    return linearForwardMany(
      x,
      linears.map((l) => l.inference),
    );
  }

  /** dx; LoRA / weight / bias grads are accumulated into their grad tensors. */
  backward(dy: Tensor, needDx = true): Tensor | null {
    const s = this.saved;
    if (!s) throw new Error(`${this.name}: backward without a training forward`);
    this.saved = null;
    let dx: Tensor | null;
    if (this.lora && s.xa) {
      const l = this.lora;
      const r = loraLinearBackward(dy, s.x, this.weight, { A: l.A, B: l.B, scale: l.scale, dropout: l.dropout, seed: s.seed }, s.xa, {
        dx: needDx,
        dA: l.gradA,
        dB: l.gradB,
        accumulate: true,
      });
      dx = r.dx;
      s.xa.dispose();
    } else {
      const r = linearBackward(dy, s.x, this.weight, {
        dx: needDx,
        dw: this.weightGrad ?? false,
        dbias: this.biasGrad ?? false,
        accumulate: true,
      });
      dx = r.dx;
    }
    return dx;
  }

  /** Drops what the last training forward kept (activation checkpointing recomputes it). */
  release(): void {
    this.saved?.xa?.dispose();
    this.saved = null;
  }

  dispose(): void {
    this.release();
    if (isNF4(this.weight)) disposeNF4(this.weight);
    else this.weight.dispose();
    this.bias?.dispose();
    this.lora?.A.dispose();
    this.lora?.B.dispose();
    this.lora?.gradA.dispose();
    this.lora?.gradB.dispose();
    this.weightGrad?.dispose();
    this.biasGrad?.dispose();
  }
}

/** RMSNorm (no bias) or LayerNorm (with bias) over the last dimension; frozen. */
export class Norm {
  private saved: { x: Tensor; mean: Tensor | null; rstd: Tensor } | null = null;

  constructor(
    readonly kind: 'rms' | 'layer',
    readonly weight: Tensor,
    readonly bias: Tensor | null,
    readonly eps: number,
    readonly name = '',
  ) {}

  forward(x: Tensor, train: Pass): Tensor {
    if (this.kind === 'rms') {
      const { y, rstd } = rmsnormForward(x, this.weight, this.eps);
      if (train) this.saved = { x, mean: null, rstd };
      else rstd.dispose();
      return y;
    }
    const { y, mean, rstd } = layernormForward(x, this.weight, this.bias, this.eps);
    if (train) this.saved = { x, mean, rstd };
    else {
      mean.dispose();
      rstd.dispose();
    }
    return y;
  }

  backward(dy: Tensor): Tensor {
    const s = this.saved!;
    this.saved = null;
    const dx =
      this.kind === 'rms'
        ? rmsnormBackward(dy, s.x, this.weight, s.rstd, { dw: false }).dx
        : layernormBackward(dy, s.x, this.weight, s.mean!, s.rstd, { dw: false, db: false }).dx;
    s.mean?.dispose();
    s.rstd.dispose();
    return dx;
  }

  release(): void {
    this.saved?.mean?.dispose();
    this.saved?.rstd.dispose();
    this.saved = null;
  }

  dispose(): void {
    this.release();
    this.weight.dispose();
    this.bias?.dispose();
  }
}

/** a += b, returning a (b is disposed: gradients are summed where paths join). */
export function accumulate(a: Tensor, b: Tensor): Tensor {
  addForward(a, b, a);
  b.dispose();
  return a;
}

/** a += b, returning a; b stays the caller's (a residual: no copy of it, one kernel fewer per join). */
export function addInto(a: Tensor, b: Tensor): Tensor {
  return addForward(a, b, a);
}
