// Greedy decoding shared by both generators: the options and one step's pick.

export interface GenerateOptions {
  maxNewTokens: number;
  /** stop a row at this token (default: the config's eos_token_id; null: never stop early) */
  eosTokenId?: number | null;
  /** what finished rows are filled with (default: the config's pad_token_id, else EOS) */
  padTokenId?: number;
}

/**
 * One greedy step over rows of logits [B, V]: the first maximum per row (as torch.argmax), pad for
 * rows already finished; rows that produce EOS are marked finished.
 */
export function greedyPick(lg: Float32Array, V: number, finished: boolean[], eos: number | null, pad: number): number[] {
  return finished.map((done, b) => {
    let best = 0;
    for (let v = 1; v < V; v++) if (lg[b * V + v] > lg[b * V + best]) best = v;
    const tok = done ? pad : best;
    if (eos !== null && tok === eos) finished[b] = true;
    return tok;
  });
}
