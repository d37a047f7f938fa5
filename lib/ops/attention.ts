// Attention with padding mask, GQA and sliding window; causal (decoders) or not (T5's encoder and
// cross-attention), with an optional additive score bias (T5's relative positions). q [B,Tq,Hq,D], k/v [B,Tk,Hkv,D].
import { addon } from '../native/addon.js';
import { Tensor } from '../tensor.js';

export interface AttentionOptions {
  /** attention_mask [B, T] (1 = token, 0 = padding); keys at padding are never attended */
  mask?: Tensor | null;
  /** default 1/√D */
  scale?: number;
  /** sliding window: query t sees keys s with t − s < window (0 = unlimited) */
  window?: number;
  /** default true; false: every query sees every unmasked key (k/v may be longer or shorter than q) */
  causal?: boolean;
  /** [Hq, Tq, Tk] added to the scaled scores, shared across the batch (T5's relative position bias) */
  bias?: Tensor | null;
}

/**
 * Training and prefill: k/v have the query's length. Decoding with a KV cache: k/v are [B, Tcap, Hkv, D]
 * buffers whose first `kvLen` positions are filled, the mask is [B, Tcap], and query i sits at
 * absolute position kvLen − Tq + i.
 */
export function attentionForward(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions & { kvLen?: number } = {}) {
  const [B, T, H, D] = q.shape;
  const out = Tensor.empty(q.shape, q.dtype, q.device);
  const lse = Tensor.empty([B, H, T], 'f32', q.device);
  addon.attention_forward(
    q.handle,
    k.handle,
    v.handle,
    o.mask?.handle ?? null,
    o.scale ?? 1 / Math.sqrt(D),
    o.window ?? 0,
    out.handle,
    lse.handle,
    o.kvLen,
    o.causal ?? true,
    o.bias?.handle ?? null,
  );
  return { out, lse };
}

export function attentionBackward(dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, o: AttentionOptions = {}) {
  const D = q.shape[3];
  const dq = Tensor.empty(q.shape, q.dtype, q.device);
  const dk = Tensor.empty(k.shape, k.dtype, q.device);
  const dv = Tensor.empty(v.shape, v.dtype, q.device);
  addon.attention_backward(
    dout.handle,
    q.handle,
    k.handle,
    v.handle,
    out.handle,
    lse.handle,
    o.mask?.handle ?? null,
    o.scale ?? 1 / Math.sqrt(D),
    o.window ?? 0,
    dq.handle,
    dk.handle,
    dv.handle,
    o.causal ?? true,
    o.bias?.handle ?? null,
  );
  return { dq, dk, dv };
}
