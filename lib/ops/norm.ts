// RMSNorm and LayerNorm over the last dimension; forward returns what backward needs.
import { addon } from '../native/addon.js';
import { Tensor } from '../tensor.js';

function rows(x: Tensor): number[] {
  return x.shape.length > 1 ? [...x.shape.slice(0, -1)] : [1];
}

export function rmsnormForward(x: Tensor, w: Tensor, eps: number) {
  const y = Tensor.empty(x.shape, x.dtype, x.device);
  const rstd = Tensor.empty(rows(x), 'f32', x.device);
  addon.rmsnorm_forward(x.handle, w.handle, eps, y.handle, rstd.handle);
  return { y, rstd };
}

/** dx, and dw (allocated, or added into `dw` when accumulate is set) */
export function rmsnormBackward(
  dy: Tensor,
  x: Tensor,
  w: Tensor,
  rstd: Tensor,
  opts: { dw?: Tensor | boolean; accumulate?: boolean } = {},
) {
  const dx = Tensor.empty(x.shape, x.dtype, x.device);
  const dw = opts.dw instanceof Tensor ? opts.dw : opts.dw === false ? null : Tensor.zeros(w.shape, 'f32', x.device);
  addon.rmsnorm_backward(dy.handle, x.handle, w.handle, rstd.handle, dx.handle, dw?.handle ?? null, opts.accumulate ?? false);
  return { dx, dw };
}

export function layernormForward(x: Tensor, w: Tensor, b: Tensor | null, eps: number) {
  const y = Tensor.empty(x.shape, x.dtype, x.device);
  const mean = Tensor.empty(rows(x), 'f32', x.device);
  const rstd = Tensor.empty(rows(x), 'f32', x.device);
  addon.layernorm_forward(x.handle, w.handle, b?.handle ?? null, eps, y.handle, mean.handle, rstd.handle);
  return { y, mean, rstd };
}

export function layernormBackward(
  dy: Tensor,
  x: Tensor,
  w: Tensor,
  mean: Tensor,
  rstd: Tensor,
  opts: { dw?: Tensor | boolean; db?: Tensor | boolean; accumulate?: boolean } = {},
) {
  const dx = Tensor.empty(x.shape, x.dtype, x.device);
  const pick = (s: Tensor | boolean | undefined) => (s instanceof Tensor ? s : s === false ? null : Tensor.zeros(w.shape, 'f32', x.device));
  const dw = pick(opts.dw),
    db = pick(opts.db);
  addon.layernorm_backward(
    dy.handle,
    x.handle,
    w.handle,
    mean.handle,
    rstd.handle,
    dx.handle,
    dw?.handle ?? null,
    db?.handle ?? null,
    opts.accumulate ?? false,
  );
  return { dx, dw, db };
}
