// plf-native: the library API — data, prompts, models, training, evaluation, experiments.
// Tensor and the kernels: plf-native/ops (lib/ops/index.ts).
export { Tensor, memory, resetPeakMemory, emptyCache, type DType, type Device } from './tensor.js';
export * from './errors.js';
export { AdamW, type AdamWOptions } from './ops/optim.js';
export { setMatmulPrecision, getMatmulPrecision, type MatmulPrecision } from './ops/linear.js';
export { quantizeNF4, type NF4Tensor } from './ops/nf4.js';
export { info, type PlfInfo } from './info.js';
export { DecoderModel, loadDecoderModel, buildDecoderModel } from './models/decoder/model.js';
export { loadModel } from './models/load.js';
export { T5Model } from './models/t5/model.js';
export { type Model } from './models/model.js';
export { loadT5Model } from './models/t5/model.js';
export { parseT5Config, type T5Config } from './models/t5/config.js';
export { idsTensor } from './models/batch.js';
export { type LoadModelOptions, type Batch, type Task, type TrainableParam } from './models/model.js';
export { parseConfig, readConfig, SUPPORTED_MODEL_TYPES, type ModelConfig } from './models/decoder/config.js';
export type { LoraConfig } from './models/lora.js';
export { quantizeCheckpoint, type QuantizeCheckpointOptions } from './models/quantize.js';
export { Checkpoint } from './io/checkpoint.js';
export { writeSafetensors } from './io/safetensors.js';
export { openSafetensors, readTensor } from './io/safetensors.js';
export { saveAdapter, loadAdapter } from './models/peft.js';
export { generate } from './models/decoder/generate.js';
export { type GenerateOptions } from './models/greedy.js';
export { runPrepare, type PrepareRun } from './data/run.js';
export { prepare, labelText, type Prepared, type PrepareOptions } from './data/prepare.js';
export {
  readGoEmotions,
  readUnhealthy,
  readCustom,
  GOEMOTIONS_LABELS,
  UNHEALTHY_LABELS,
  type ColumnMap,
  type Annotation,
  type RawDataset,
} from './data/datasets.js';
export { readDelimited, readRecords, readJsonl } from './data/csv.js';
export { loadPrepared, type PreparedRow, type PreparedShotRow } from './data/output.js';
export {
  renderPrompt,
  renderTarget,
  customTemplate,
  TEMPLATES,
  SETTINGS,
  type Setting,
  type TemplateSpec,
  type PromptInput,
} from './prompts/templates.js';
export { Tokenizer, ByteTokenizer, loadTokenizer, encodeWithin, type ChatMessage, type TextTokenizer } from './io/tokenizer.js';
export { multilabelMetrics, gain, type Metrics } from './eval/metrics.js';
export { parseResponse } from './eval/parse.js';
export { evaluate, type EvalResult, type Prediction } from './eval/evaluate.js';
export { train, DEFAULT_TRAIN, type TrainConfig } from './train/trainer.js';
export { runSetting, type SettingRun } from './experiments/run.js';
export { readRunInfo, type RunInfo } from './experiments/run-info.js';
export { runExperiment, readExperimentConfig, type ExperimentConfig } from './experiments/experiment.js';
export { runDemo, type DemoOptions } from './experiments/demo.js';
export { paperTables, gainsSvg, writeReport, type RunResult } from './experiments/report.js';
export { writeRandomLlama, randomLlamaModel, MISTRAL_7B, type LlamaShape } from './models/random.js';
export type { TensorSource } from './io/checkpoint.js';
export { ChatClient, EndpointError, type ChatClientOptions } from './eval/openai.js';
export { runQuery, type QueryRun } from './experiments/query.js';
export {
  createServer,
  ServeError,
  type ServeOptions,
  type PlfServer,
  type ClassifyResult,
  type ClassifyOptions,
  type GenerateOptions as ServeGenerateOptions,
  type Generation,
  type ServedModel,
} from './serve/server.js';
export { describeModels, parseRunSpec, type RunSpec } from './serve/models.js';
export { profileOps, formatProfile, type OpTime } from './util/profile.js';
