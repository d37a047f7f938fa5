// Naive peers measured in the same run: plain JS loops, the "before" of every speedup we report.
export const NF4_CODE_JS = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495,
  0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
]);

/** y[M,N] = x[M,K]·W[N,K]ᵀ, the textbook triple loop with a running sum. */
export function naiveLinear(x: Float32Array, w: Float32Array, M: number, K: number, N: number, y: Float32Array): void {
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s;
    }
}
