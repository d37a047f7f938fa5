// Learning-rate schedule: linear warmup then cosine decay to 0 (transformers' get_cosine_schedule_with_warmup).
export function cosineWithWarmup(step: number, total: number, warmup: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  const progress = (step - warmup) / Math.max(1, total - warmup);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
