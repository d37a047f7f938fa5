// Greedy decoding shared by both generators: the options and one step's pick.

export interface GenerateOptions {
  maxNewTokens: number;
  /** stop a row at this token (default: the config's eos_token_id; null: never stop early) */
  eosTokenId?: number | null;
  /** what finished rows are filled with (default: the config's pad_token_id, else EOS) */
  padTokenId?: number;
  /** chooses row b's next token from its logits (default: the first maximum, as torch.argmax; the server samples here) */
  pick?: (logits: Float32Array, b: number) => number;
  /**
   * Called after every step with the tokens just picked (pad for rows already finished): set
   * finished[b] to stop row b early (a cancelled request, its own token limit, a stop string).
   */
  onStep?: (next: number[], finished: boolean[]) => void;
  /**
   * Decoder models: run the steps after the prompt as one recorded step replayed per token (a CUDA
   * graph; on the CPU the same inputs-in-device-tensors path, rerun). Default: on CUDA unless
   * PLF_CUDA_GRAPH=0, falling back to op calls (with a warning) when recording fails; true: always,
   * errors thrown; false: never. Same tokens either way.
   */
  graph?: boolean;
  /**
   * Decoder models decoding as a recorded step: keep the step and its KV cache (capacity rounded up
   * to 256 positions) for the next call of the same batch size and capacity, so a CUDA graph is
   * recorded once rather than per call (default true; the model's dispose() frees them). false:
   * record for this call only.
   */
  keep?: boolean;
}

/**
 * One step over rows of logits [B, V]: the first maximum per row (as torch.argmax) or `pick`'s choice, pad for
 * rows already finished; rows that produce EOS are marked finished.
 */
export function greedyPick(
  lg: Float32Array,
  V: number,
  finished: boolean[],
  eos: number | null,
  pad: number,
  pick?: GenerateOptions['pick'],
): number[] {
  const best = finished.map((done, b) => {
    if (done) return pad;
    if (pick) return pick(lg.subarray(b * V, (b + 1) * V), b);
    let m = 0;
    for (let v = 1; v < V; v++) if (lg[b * V + v] > lg[b * V + m]) m = v;
    return m;
  });
  return finishStep(best, finished, eos, pad);
}

/** One step's tokens from each row's choice `best`: pad for rows already finished; rows that produce EOS are marked finished. */
export function finishStep(best: ArrayLike<number>, finished: boolean[], eos: number | null, pad: number): number[] {
  return finished.map((done, b) => {
    if (done) return pad;
    const tok = best[b];
    if (eos !== null && tok === eos) finished[b] = true;
    return tok;
  });
}
