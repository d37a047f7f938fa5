// dtype conversion between f32, f16 and bf16 (round to nearest even), on the tensor's device.
import { addon } from '../native/addon.js';
import { Tensor, type DType } from '../tensor.js';

export function convert(x: Tensor, dtype: DType): Tensor {
  const y = Tensor.empty(x.shape, dtype, x.device);
  addon.convert(x.handle, y.handle);
  return y;
}

/** x in `dtype`, taking x over: x itself when it already is, else its converted copy (x is freed). */
export function convertOwned(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const y = convert(x, dtype);
  x.dispose();
  return y;
}
