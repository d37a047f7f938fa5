// Attention and MLP shared by the decoder families, with explicit forward/backward.
// Shapes: x [B, T, C]; q [B, T, Hq, D]; k, v [B, T, Hkv, D].
import { Tensor } from '../../tensor.js';
import { attentionForward, attentionBackward } from '../../ops/attention.js';
import { ropePairInPlace } from '../../ops/rope.js';
import { sliceColsForward, sliceColsBackward, cacheWrite } from '../../ops/copy.js';
import { swigluForward, swigluBackward, geluForward, geluBackward } from '../../ops/activation.js';
import { Linear, accumulate, addInto, type Pass } from '../layers.js';
import { gateUpSwiglu } from '../../ops/linear.js';
import type { ModelConfig } from './config.js';

/** What every layer of one forward pass shares. */
export interface Ctx {
  B: number;
  T: number;
  positions: Tensor; // i64 [B, T]
  mask: Tensor | null; // i64 [B, Tcap] (attention_mask; the cache's when decoding)
  train: Pass;
  cache?: LayerCache[]; // decoding: one per layer
  /**
   * decoding a recorded step (generate's CUDA graph): i64 [1] on the device, the positions filled
   * before this step; the new keys go there and attention spans the whole cache under the mask
   * (cache.len is not read, so the step does not change between tokens). A sliding window is then
   * the caller's to fold into the mask (attention cannot know the query's position in the cache).
   */
  cacheAt?: Tensor;
}

/** A layer's KV cache: [B, cap, Hkv, D] buffers of which `len` positions are filled. */
export interface LayerCache {
  k: Tensor;
  v: Tensor;
  len: number;
}

export class Attention {
  private saved: { q: Tensor; k: Tensor; v: Tensor; out: Tensor; lse: Tensor; ctx: Ctx } | null = null;

  /** Separate q/k/v projections, or one fused `qkv` in GPT-NeoX's per-head [q|k|v] layout. */
  constructor(
    readonly cfg: ModelConfig,
    readonly proj: { q?: Linear; k?: Linear; v?: Linear; qkv?: Linear; o: Linear },
    readonly layerIndex: number,
  ) {}

  linears(): Linear[] {
    const p = this.proj;
    return [p.q, p.k, p.v, p.qkv, p.o].filter((l): l is Linear => !!l);
  }

  private project(x: Tensor, train: Pass): { q: Tensor; k: Tensor; v: Tensor } {
    const { B, T } = { B: x.shape[0], T: x.shape[1] };
    const c = this.cfg,
      D = c.headDim;
    if (this.proj.qkv) {
      const rows = this.proj.qkv.forward(x, train).reshaped([B * T * c.heads, 3 * D]); // per head [q|k|v]
      const q = sliceColsForward(rows, 0, D),
        k = sliceColsForward(rows, D, D),
        v = sliceColsForward(rows, 2 * D, D);
      rows.dispose();
      const shape = [B, T, c.heads, D];
      return { q: q.reshaped(shape), k: k.reshaped(shape), v: v.reshaped(shape) };
    }
    const [qf, kf, vf] = Linear.forwardMany(x, [this.proj.q!, this.proj.k!, this.proj.v!], train);
    return {
      q: qf.reshaped([B, T, c.heads, D]),
      k: kf.reshaped([B, T, c.kvHeads, D]),
      v: vf.reshaped([B, T, c.kvHeads, D]),
    };
  }

  /** The attention's output [B, T, C]; with `residual` (inference), added into it instead (returned). */
  forward(x: Tensor, ctx: Ctx, residual?: Tensor): Tensor {
    const c = this.cfg,
      [B, T] = [ctx.B, ctx.T];
    const { q, k, v } = this.project(x, ctx.train);
    ropePairInPlace(q, k, ctx.positions, { rotaryDim: c.rotaryDim, theta: c.ropeTheta });
    let att: { out: Tensor; lse: Tensor };
    const cache = ctx.cache?.[this.layerIndex];
    if (cache && ctx.cacheAt) {
      cacheWrite(k, v, ctx.cacheAt, cache.k, cache.v);
      att = attentionForward(q, cache.k, cache.v, { mask: ctx.mask }); // the window is in the mask
    } else if (cache) {
      const per = T * c.kvHeads * c.headDim,
        cap = cache.k.shape[1];
      for (let b = 0; b < B; b++) {
        const at = (b * cap + cache.len) * c.kvHeads * c.headDim;
        Tensor.copyRange(cache.k, at, k, b * per, per);
        Tensor.copyRange(cache.v, at, v, b * per, per);
      }
      cache.len += T;
      att = attentionForward(q, cache.k, cache.v, { mask: ctx.mask, window: c.slidingWindow, kvLen: cache.len });
    } else {
      att = attentionForward(q, k, v, { mask: ctx.mask, window: c.slidingWindow });
    }
    const out = att.out.reshaped([B, T, c.heads * c.headDim]);
    const y = this.proj.o.forward(out, ctx.train, residual);
    if (ctx.train) {
      this.saved = { q, k, v, out, lse: att.lse, ctx };
    } else {
      for (const t of [q, k, v, out, att.lse]) t.dispose();
    }
    return y;
  }

  backward(dy: Tensor): Tensor {
    const s = this.saved!;
    this.saved = null;
    const c = this.cfg,
      { B, T } = s.ctx;
    const dout = this.proj.o.backward(dy)!;
    // the kernels check element counts, so [B, T, H·D] tensors stand in for [B, T, H, D]
    const g = attentionBackward(dout, s.q, s.k, s.v, s.out, s.lse, { mask: s.ctx.mask, window: c.slidingWindow });
    dout.dispose();
    for (const t of [s.q, s.k, s.v, s.out, s.lse]) t.dispose();
    ropePairInPlace(g.dq, g.dk, s.ctx.positions, { rotaryDim: c.rotaryDim, theta: c.ropeTheta }, true);
    if (this.proj.qkv) {
      const D = c.headDim;
      const dqkv = Tensor.zeros([B * T * c.heads, 3 * D], g.dq.dtype, g.dq.device);
      [g.dq, g.dk, g.dv].forEach((d, i) => {
        const rows = d.reshaped([B * T * c.heads, D]);
        sliceColsBackward(rows, i * D, dqkv);
        rows.dispose();
      });
      const flat = dqkv.reshaped([B, T, c.heads * 3 * D]);
      const dx = this.proj.qkv.backward(flat)!;
      flat.dispose();
      return dx;
    }
    const grads: [Linear, Tensor, number][] = [
      [this.proj.q!, g.dq, c.heads],
      [this.proj.k!, g.dk, c.kvHeads],
      [this.proj.v!, g.dv, c.kvHeads],
    ];
    let dx: Tensor | null = null;
    for (const [lin, d, h] of grads) {
      const flat = d.reshaped([B, T, h * c.headDim]);
      const part = lin.backward(flat)!;
      flat.dispose();
      dx = dx ? accumulate(dx, part) : part;
    }
    return dx!;
  }

  release(): void {
    const s = this.saved;
    this.saved = null;
    if (s) for (const t of [s.q, s.k, s.v, s.out, s.lse]) t.dispose();
    this.linears().forEach((l) => l.release());
  }
}

/** SwiGLU (gate, up, down) or GELU (fc1, fc2) feed-forward. */
export class MLP {
  private saved: { a: Tensor; b: Tensor | null; h: Tensor } | null = null;

  constructor(
    readonly act: ModelConfig['act'],
    readonly proj: { gate?: Linear; up: Linear; down: Linear },
  ) {}

  linears(): Linear[] {
    return [this.proj.gate, this.proj.up, this.proj.down].filter((l): l is Linear => !!l);
  }

  /** The MLP's output; with `residual` (inference), added into it instead (returned). */
  forward(x: Tensor, train: Pass, residual?: Tensor): Tensor {
    let a: Tensor,
      b: Tensor | null = null,
      h: Tensor;
    const g = this.proj.gate;
    // decoding on CUDA: both GEMVs (with their LoRA adapters) and SwiGLU in one launch (nothing
    // kept: no backward follows)
    const up = this.proj.up;
    const fused =
      !train && this.act === 'silu' && g && !g.bias && !up.bias
        ? gateUpSwiglu(x, g.weight, up.weight, g.inference.lora, up.inference.lora)
        : null;
    if (fused) {
      const y = this.proj.down.forward(fused, train, residual);
      fused.dispose();
      return y;
    }
    if (this.act === 'silu') {
      [a, b] = Linear.forwardMany(x, [this.proj.gate!, this.proj.up], train);
      h = swigluForward(a, b);
    } else {
      a = this.proj.up.forward(x, train);
      h = geluForward(a, this.act === 'gelu_new' ? 'tanh' : 'none');
    }
    const y = this.proj.down.forward(h, train, residual);
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
    const dh = this.proj.down.backward(dy)!;
    s.h.dispose();
    let dx: Tensor;
    if (this.act === 'silu') {
      const { dgate, dup } = swigluBackward(dh, s.a, s.b!);
      dx = this.proj.gate!.backward(dgate)!;
      accumulate(dx, this.proj.up.backward(dup)!);
      dgate.dispose();
      dup.dispose();
    } else {
      const da = geluBackward(dh, s.a, this.act === 'gelu_new' ? 'tanh' : 'none');
      dx = this.proj.up.backward(da)!;
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

/**
 * One transformer layer. residual 'sequential': h = x + attn(ln1 x); out = h + mlp(ln2 h) (llama,
 * GPT-NeoX without parallel residual); 'shared-norm': out = x + attn(ln x) + mlp(ln x) (phi);
 * 'two-norms': out = x + attn(ln1 x) + mlp(ln2 x) (GPT-NeoX parallel residual).
 */
export class Block {
  private saved: Tensor[] = [];

  constructor(
    readonly residual: 'sequential' | 'shared-norm' | 'two-norms',
    readonly ln1: import('../layers.js').Norm,
    readonly ln2: import('../layers.js').Norm | null,
    readonly attn: Attention,
    readonly mlp: MLP,
  ) {}

  linears(): Linear[] {
    return [...this.attn.linears(), ...this.mlp.linears()];
  }

  /** The layer's output; in inference that is x itself, updated in place (see forwardInPlace). */
  forward(x: Tensor, ctx: Ctx): Tensor {
    if (!ctx.train) return this.forwardInPlace(x, ctx);
    const keep = (...ts: Tensor[]) => {
      if (ctx.train) this.saved.push(...ts);
      else ts.forEach((t) => t.dispose());
    };
    if (this.residual === 'sequential') {
      const n1 = this.ln1.forward(x, ctx.train);
      const h = addInto(this.attn.forward(n1, ctx), x); // h = attn + x
      const n2 = this.ln2!.forward(h, ctx.train);
      const out = addInto(this.mlp.forward(n2, ctx.train), h);
      keep(n1, n2, h);
      return out;
    }
    const n1 = this.ln1.forward(x, ctx.train);
    const n2 = this.residual === 'two-norms' ? this.ln2!.forward(x, ctx.train) : n1;
    const out = accumulate(this.attn.forward(n1, ctx), this.mlp.forward(n2, ctx.train));
    addInto(out, x);
    keep(n1, ...(n2 !== n1 ? [n2] : []));
    return out;
  }

  /**
   * Inference: the residual stream x is updated in place — the attention's and the MLP's output
   * projections add into it in their epilogue (no add kernel, no output tensor per join).
   */
  private forwardInPlace(x: Tensor, ctx: Ctx): Tensor {
    const n1 = this.ln1.forward(x, false);
    if (this.residual === 'sequential') {
      this.attn.forward(n1, ctx, x);
      n1.dispose();
      const n2 = this.ln2!.forward(x, false);
      this.mlp.forward(n2, false, x);
      n2.dispose();
      return x;
    }
    // both branches read the layer's input: its norms first, then the two adds into x
    const n2 = this.residual === 'two-norms' ? this.ln2!.forward(x, false) : n1;
    this.attn.forward(n1, ctx, x);
    this.mlp.forward(n2, false, x);
    n1.dispose();
    if (n2 !== n1) n2.dispose();
    return x;
  }

  backward(dy: Tensor): Tensor {
    // through(norm, grad): the norm's input gradient; the consumed grad is disposed
    const through = (n: import('../layers.js').Norm, g: Tensor) => {
      const r = n.backward(g);
      g.dispose();
      return r;
    };
    let dx: Tensor;
    if (this.residual === 'sequential') {
      const dh = addInto(through(this.ln2!, this.mlp.backward(dy)), dy);
      dx = accumulate(through(this.ln1, this.attn.backward(dh)), dh);
    } else if (this.residual === 'shared-norm') {
      const dn = accumulate(this.attn.backward(dy), this.mlp.backward(dy));
      dx = addInto(through(this.ln1, dn), dy);
    } else {
      dx = accumulate(through(this.ln1, this.attn.backward(dy)), through(this.ln2!, this.mlp.backward(dy)));
      addInto(dx, dy);
    }
    this.saved.forEach((t) => t.dispose());
    this.saved = [];
    return dx;
  }

  /** Frees everything the last training forward kept, in this layer and its modules. */
  release(): void {
    this.saved.forEach((t) => t.dispose());
    this.saved = [];
    this.attn.release();
    this.mlp.release();
    this.ln1.release();
    this.ln2?.release();
  }

  dispose(): void {
    this.release();
    this.ln1.dispose();
    this.ln2?.dispose();
    this.linears().forEach((l) => l.dispose());
  }
}
