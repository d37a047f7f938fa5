// plf-native: the library API.
export { Tensor, memory, type DType, type Device, type TypedArray } from './tensor.js';
export * from './errors.js';
export { quantizeNF4, dequantizeNF4, nf4To, disposeNF4, isNF4, quantStateJSON, type NF4Tensor } from './ops/nf4.js';
export * from './ops/linear.js';
export * from './ops/optim.js';
export * from './ops/norm.js';
export * from './ops/rope.js';
export * from './ops/attention.js';
export * from './ops/activation.js';
export * from './ops/loss.js';
export * from './ops/embedding.js';
export * from './ops/convert.js';
export * from './ops/copy.js';
export { info, type PlfInfo } from './info.js';
export { loadModel, DecoderModel, type LoadModelOptions, type Batch, type Task, type TrainableParam } from './models/decoder.js';
export { parseConfig, readConfig, SUPPORTED_MODEL_TYPES, type ModelConfig } from './models/config.js';
export type { LoraConfig } from './models/lora.js';
