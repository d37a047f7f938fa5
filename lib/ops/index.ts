// plf-native/ops: Tensor and the kernels — every op's forward/backward, NF4, AdamW, matmul precision.
// (The models, data, prompts, training and evaluation are the main entry, plf-native.)
export { Tensor, memory, resetPeakMemory, emptyCache, type DType, type Device, type TypedArray } from '../tensor.js';
export * from '../errors.js';
export { quantizeNF4, dequantizeNF4, nf4To, disposeNF4, isNF4, quantStateJSON, type NF4Tensor } from './nf4.js';
export {
  linearForward,
  linearForwardMany,
  gateUpSwiglu,
  linearBackward,
  loraLinearForward,
  loraLinearBackward,
  setMatmulPrecision,
  getMatmulPrecision,
  useCublasLt,
  type Weight,
  type LinearBackwardOptions,
  type LoraParams,
  type LoraBackwardOptions,
  type MatmulPrecision,
} from './linear.js';
export * from './optim.js';
export * from './norm.js';
export * from './rope.js';
export * from './attention.js';
export * from './activation.js';
export * from './loss.js';
export * from './embedding.js';
export * from './convert.js';
export * from './copy.js';
export { StepGraph } from './graph.js';
export { info, type PlfInfo } from '../info.js';
