// The paper's training defaults, in a module of their own so the CLI's help reads them without
// loading the trainer (and the native addon's module graph behind it).
// (typed where the trainer re-exports it as a TrainConfig: no import back into trainer.ts)
export const DEFAULT_TRAIN = {
  lr: 1e-4,
  batchSize: 8,
  gradAccum: 4,
  epochs: 1,
  warmupRatio: 0.05,
  maxGradNorm: 1,
  weightDecay: 0.01,
  seed: 42,
  evalEvery: 0,
  bestBy: 'loss' as 'loss' | 'f1',
  earlyStop: 0,
  saveEvery: 0,
  evalBatchSize: 16,
};
