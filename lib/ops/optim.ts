// AdamW over a list of parameters in one native call (torch.optim.AdamW semantics).
import { addon } from '../native/addon.js';
import { Tensor } from '../tensor.js';
import { ArgumentError } from '../errors.js';

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** gradients are divided by this first (fp16 loss scaling); a non-finite gradient skips the step */
  gradScale?: number;
  /** clip the global gradient norm to this (as torch.nn.utils.clip_grad_norm_) */
  maxGradNorm?: number;
  /**
   * true (default): an inf/nan gradient skips the step (nothing is updated). false: update
   * regardless, as torch's AdamW; on CUDA, without clipping or gradScale, the step is then one
   * pass over the tensors (the norm is summed in the same pass).
   */
  skipNonFinite?: boolean;
}

interface Slot {
  param: Tensor;
  master: Tensor | null;
  m: Tensor;
  v: Tensor;
}

/**
 * AdamW with f32 moments and f32 master weights for bf16/f16 parameters. step() takes the
 * gradients (f32, one per parameter, same order) and returns the pre-clip global norm.
 */
export class AdamW {
  step = 0;
  private slots: Slot[];

  constructor(
    readonly params: Tensor[],
    readonly options: AdamWOptions,
  ) {
    this.slots = params.map((p) => {
      let master: Tensor | null = null;
      if (p.dtype === 'bf16' || p.dtype === 'f16') {
        master = Tensor.empty(p.shape, 'f32', p.device);
        addon.convert(p.handle, master.handle);
      } else if (p.dtype !== 'f32') {
        throw new ArgumentError(`AdamW: parameter ${p} must be f32, bf16 or f16`);
      }
      return { param: p, master, m: Tensor.zeros(p.shape, 'f32', p.device), v: Tensor.zeros(p.shape, 'f32', p.device) };
    });
  }

  stepWith(grads: Tensor[], overrides: Partial<AdamWOptions> = {}): { gradNorm: number; skipped: boolean } {
    if (grads.length !== this.slots.length)
      throw new ArgumentError(`AdamW.step: ${grads.length} gradients for ${this.slots.length} parameters`);
    const o = { ...this.options, ...overrides };
    const r = addon.adamw_step(
      this.slots.map((s, i) => ({
        param: s.param.handle,
        master: s.master?.handle ?? null,
        grad: grads[i].handle,
        m: s.m.handle,
        v: s.v.handle,
      })),
      {
        lr: o.lr,
        beta1: o.betas?.[0] ?? 0.9,
        beta2: o.betas?.[1] ?? 0.999,
        eps: o.eps ?? 1e-8,
        weightDecay: o.weightDecay ?? 0.01,
        step: this.step + 1,
        gradScale: o.gradScale ?? 1,
        maxGradNorm: o.maxGradNorm ?? 0,
        skipNonFinite: o.skipNonFinite ?? true,
      },
    );
    if (!r.skipped) this.step++;
    return r;
  }

  /** The optimizer state tensors (for checkpoints). */
  state(): { step: number; m: Tensor[]; v: Tensor[]; master: (Tensor | null)[] } {
    return { step: this.step, m: this.slots.map((s) => s.m), v: this.slots.map((s) => s.v), master: this.slots.map((s) => s.master) };
  }

  /** Restores step and moments saved from state() (the parameters themselves are restored separately). */
  setState(st: { step: number; m: Tensor[]; v: Tensor[]; master?: (Tensor | null)[] }): void {
    if (st.m.length !== this.slots.length || st.v.length !== this.slots.length)
      throw new ArgumentError(`AdamW.setState: ${st.m.length} moments for ${this.slots.length} parameters`);
    this.step = st.step;
    this.slots.forEach((s, i) => {
      s.m.copyFrom(st.m[i]);
      s.v.copyFrom(st.v[i]);
      const ms = st.master?.[i];
      if (s.master && ms) s.master.copyFrom(ms);
    });
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    for (const s of this.slots) {
      s.m.dispose();
      s.v.dispose();
      s.master?.dispose();
    }
  }
}
