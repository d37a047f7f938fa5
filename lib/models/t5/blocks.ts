// T5's layers with explicit forward/backward: unscaled attention with a relative position bias
// (self-attention) or over the encoder output (cross-attention), the (gated) feed-forward, and the
// pre-norm block of the encoder (self, ff) and the decoder (self, cross, ff).
// Shapes: x [B, T, C]; q/k/v [B, T, H, d_kv]; bias [H, Tq, Tk].
import { Tensor } from '../../tensor.js';
import { attentionForward, attentionBackward } from '../../ops/attention.js';
import {
  gegluForward,
  gegluBackward,
  geluForward,
  geluBackward,
  reluForward,
  reluBackward,
  swigluForward,
  swigluBackward,
} from '../../ops/activation.js';
import { Linear, Norm, accumulate, addInto, type Pass } from '../layers.js';
import type { T5Config } from './config.js';

/** A decoder layer's caches while generating: self-attention keys/values so far, cross keys/values once. */
export interface T5LayerCache {
  k: Tensor;
  v: Tensor;
  len: number;
  crossK: Tensor | null;
  crossV: Tensor | null;
}

/** What the layers of one stack share in one forward pass. */
export interface T5Ctx {
  B: number;
  T: number;
  train: Pass;
  /** self-attention key mask [B, Tk] (the encoder's attention_mask; null in the decoder) */
  mask: Tensor | null;
  /** self-attention position bias [H, T, Tk], computed once per stack from layer 0's table */
  bias: Tensor;
  /** decoder: the encoder output and its mask (cross-attention keys) */
  enc?: Tensor;
  encMask?: Tensor | null;
  cache?: T5LayerCache[];
}

export class T5Attention {
  private saved: { q: Tensor; k: Tensor; v: Tensor; out: Tensor; lse: Tensor; ctx: T5Ctx; Tk: number } | null = null;

  constructor(
    readonly cfg: T5Config,
    readonly proj: { q: Linear; k: Linear; v: Linear; o: Linear },
    readonly cross: boolean,
    readonly layerIndex: number,
  ) {}

  linears(): Linear[] {
    return [this.proj.q, this.proj.k, this.proj.v, this.proj.o];
  }

  private heads(x: Tensor, lin: Linear, train: Pass): Tensor {
    return lin.forward(x, train).reshaped([x.shape[0], x.shape[1], this.cfg.heads, this.cfg.headDim]);
  }

  forward(x: Tensor, ctx: T5Ctx): Tensor {
    const c = this.cfg,
      { B, T, train } = ctx,
      H = c.heads,
      D = c.headDim;
    const q = this.heads(x, this.proj.q, train);
    const cache = ctx.cache?.[this.layerIndex];
    let k: Tensor, v: Tensor, att: { out: Tensor; lse: Tensor };
    if (this.cross) {
      if (cache?.crossK && cache.crossV) {
        k = cache.crossK;
        v = cache.crossV;
      } else {
        k = this.heads(ctx.enc!, this.proj.k, train);
        v = this.heads(ctx.enc!, this.proj.v, train);
        if (cache) {
          cache.crossK = k;
          cache.crossV = v;
        }
      }
      att = attentionForward(q, k, v, { mask: ctx.encMask ?? null, causal: false, scale: 1 });
    } else {
      k = this.heads(x, this.proj.k, train);
      v = this.heads(x, this.proj.v, train);
      const causal = !!ctx.enc; // the decoder's self-attention
      if (cache) {
        const per = T * H * D,
          cap = cache.k.shape[1];
        for (let b = 0; b < B; b++) {
          const at = (b * cap + cache.len) * H * D;
          Tensor.copyRange(cache.k, at, k, b * per, per);
          Tensor.copyRange(cache.v, at, v, b * per, per);
        }
        cache.len += T;
        att = attentionForward(q, cache.k, cache.v, { causal, scale: 1, bias: ctx.bias, kvLen: cache.len });
        k.dispose();
        v.dispose();
      } else {
        att = attentionForward(q, k, v, { mask: ctx.mask, causal, scale: 1, bias: ctx.bias });
      }
    }
    const out = att.out.reshaped([B, T, H * D]);
    const y = this.proj.o.forward(out, train);
    if (train) {
      this.saved = { q, k, v, out, lse: att.lse, ctx, Tk: k.shape[1] };
    } else {
      for (const t of [q, out, att.lse]) t.dispose();
      if (!cache) {
        k.dispose();
        v.dispose();
      } // with a cache: self-attention copied them in, cross-attention keeps them there
    }
    return y;
  }

  /** dx of the query input, and for cross-attention the gradient into the encoder output. */
  backward(dy: Tensor): { dx: Tensor; denc: Tensor | null } {
    const s = this.saved!;
    this.saved = null;
    const c = this.cfg,
      { B, T } = s.ctx,
      inner = c.heads * c.headDim;
    const dout = this.proj.o.backward(dy)!;
    const g = this.cross
      ? attentionBackward(dout, s.q, s.k, s.v, s.out, s.lse, { mask: s.ctx.encMask ?? null, causal: false, scale: 1 })
      : attentionBackward(dout, s.q, s.k, s.v, s.out, s.lse, { mask: s.ctx.mask, causal: !!s.ctx.enc, scale: 1, bias: s.ctx.bias });
    dout.dispose();
    for (const t of [s.q, s.k, s.v, s.out, s.lse]) t.dispose();
    const through = (lin: Linear, d: Tensor, rows: number) => {
      const flat = d.reshaped([B, rows, inner]);
      const r = lin.backward(flat)!;
      flat.dispose();
      d.dispose();
      return r;
    };
    const dx = through(this.proj.q, g.dq, T);
    const dk = through(this.proj.k, g.dk, s.Tk),
      dv = through(this.proj.v, g.dv, s.Tk);
    const dkv = accumulate(dk, dv);
    if (this.cross) return { dx, denc: dkv };
    return { dx: accumulate(dx, dkv), denc: null };
  }

  /** Drops what the last training forward kept (activation checkpointing recomputes it). */
  release(): void {
    const s = this.saved;
    this.saved = null;
    if (s) for (const t of [s.q, s.k, s.v, s.out, s.lse]) t.dispose();
    this.linears().forEach((l) => l.release());
  }
}

/** wo(act(wi_0 x) · wi_1 x) (gated: gelu_new as Flan-T5, or silu) or wo(act(wi x)). */
export class T5FeedForward {
  private saved: { a: Tensor; b: Tensor | null; h: Tensor } | null = null;

  constructor(
    readonly cfg: T5Config,
    readonly proj: { wi0: Linear; wi1: Linear | null; wo: Linear },
  ) {}

  linears(): Linear[] {
    return [this.proj.wi0, ...(this.proj.wi1 ? [this.proj.wi1] : []), this.proj.wo];
  }

  private approx(): 'none' | 'tanh' {
    return this.cfg.act === 'gelu_new' ? 'tanh' : 'none';
  }

  forward(x: Tensor, train: Pass): Tensor {
    const a = this.proj.wi0.forward(x, train);
    let b: Tensor | null = null,
      h: Tensor;
    if (this.proj.wi1) {
      b = this.proj.wi1.forward(x, train);
      h = this.cfg.act === 'silu' ? swigluForward(a, b) : gegluForward(a, b, this.approx());
    } else {
      h = this.cfg.act === 'relu' ? reluForward(a) : geluForward(a, this.approx());
    }
    const y = this.proj.wo.forward(h, train);
    if (train) this.saved = { a, b, h };
    else {
      a.dispose();
      b?.dispose();
      h.dispose();
    }
    return y;
  }

  backward(dy: Tensor): Tensor {
    const s = this.saved!;
    this.saved = null;
    const dh = this.proj.wo.backward(dy)!;
    s.h.dispose();
    let dx: Tensor;
    if (this.proj.wi1) {
      const { dgate, dup } = this.cfg.act === 'silu' ? swigluBackward(dh, s.a, s.b!) : gegluBackward(dh, s.a, s.b!, this.approx());
      dx = accumulate(this.proj.wi0.backward(dgate)!, this.proj.wi1.backward(dup)!);
      dgate.dispose();
      dup.dispose();
    } else {
      const da = this.cfg.act === 'relu' ? reluBackward(dh, s.a) : geluBackward(dh, s.a, this.approx());
      dx = this.proj.wi0.backward(da)!;
      da.dispose();
    }
    dh.dispose();
    s.a.dispose();
    s.b?.dispose();
    return dx;
  }

  release(): void {
    const s = this.saved;
    this.saved = null;
    if (s) {
      s.a.dispose();
      s.b?.dispose();
      s.h.dispose();
    }
    this.linears().forEach((l) => l.release());
  }
}

/** h = x + self(ln0 x); [decoder: h += cross(ln1 h, enc)]; out = h + ff(lnF h). */
export class T5Block {
  private saved: Tensor[] = [];

  constructor(
    readonly self: T5Attention,
    readonly selfNorm: Norm,
    readonly cross: T5Attention | null,
    readonly crossNorm: Norm | null,
    readonly ff: T5FeedForward,
    readonly ffNorm: Norm,
  ) {}

  linears(): Linear[] {
    return [...this.self.linears(), ...(this.cross?.linears() ?? []), ...this.ff.linears()];
  }
  norms(): Norm[] {
    return [this.selfNorm, ...(this.crossNorm ? [this.crossNorm] : []), this.ffNorm];
  }

  forward(x: Tensor, ctx: T5Ctx): Tensor {
    const keep = (...ts: Tensor[]) => {
      if (ctx.train) this.saved.push(...ts);
      else ts.forEach((t) => t.dispose());
    };
    const n0 = this.selfNorm.forward(x, ctx.train);
    let h = addInto(this.self.forward(n0, ctx), x);
    keep(n0);
    if (this.cross) {
      const n1 = this.crossNorm!.forward(h, ctx.train);
      const h2 = addInto(this.cross.forward(n1, ctx), h);
      keep(n1, h);
      h = h2;
    }
    const n2 = this.ffNorm.forward(h, ctx.train);
    const out = addInto(this.ff.forward(n2, ctx.train), h);
    keep(n2, h);
    return out;
  }

  /** dx, and the gradient into the encoder output (decoder blocks). */
  backward(dy: Tensor): { dx: Tensor; denc: Tensor | null } {
    const through = (n: Norm, g: Tensor) => {
      const r = n.backward(g);
      g.dispose();
      return r;
    };
    let dh = addInto(through(this.ffNorm, this.ff.backward(dy)), dy);
    let denc: Tensor | null = null;
    if (this.cross) {
      const r = this.cross.backward(dh);
      denc = r.denc;
      dh = accumulate(through(this.crossNorm!, r.dx), dh);
    }
    const r = this.self.backward(dh);
    const dx = accumulate(through(this.selfNorm, r.dx), dh);
    this.saved.forEach((t) => t.dispose());
    this.saved = [];
    return { dx, denc };
  }

  /** Frees everything the last training forward kept, in this layer and its modules. */
  release(): void {
    this.saved.forEach((t) => t.dispose());
    this.saved = [];
    this.self.release();
    this.cross?.release();
    this.ff.release();
    this.norms().forEach((n) => n.release());
  }

  dispose(): void {
    this.release();
    this.norms().forEach((n) => n.dispose());
    this.linears().forEach((l) => l.dispose());
  }
}
