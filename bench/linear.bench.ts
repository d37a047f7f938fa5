// linear / lora_linear GFLOP/s (f32 and NF4 weights) against a naive JS matmul and the machine's FMA peak.
import { Tensor, quantizeNF4 } from '../lib/index.js';
import { linearForward, linearBackward, loraLinearForward, loraLinearBackward, type Weight } from '../lib/ops/index.js';
import { addon } from '../lib/native/addon.js';
import { naiveLinear } from './naive.js';
import { medianMs, randomF32, type Row } from './util.js';

export async function run(): Promise<Row[]> {
  addon.fma_peak(); // wake the thread pool before measuring the peak
  const peak = Math.max(...Array.from({ length: 5 }, () => addon.fma_peak()));
  // the naive loop's rate does not depend on size; measure it on 256³ and compare rates
  const nm = 256,
    nx = randomF32(nm * nm),
    nw = randomF32(nm * nm),
    ny = new Float32Array(nm * nm);
  const naiveRate = (2 * nm ** 3) / ((await medianMs('naive', () => naiveLinear(nx, nw, nm, nm, nm, ny), 800)) / 1e3) / 1e9;
  const rows: Row[] = [];
  const shapes: [string, number, number, number][] = [
    ['1024³', 1024, 1024, 1024],
    ['256×4096×4096', 256, 4096, 4096],
  ];
  for (const [label, M, K, N] of shapes) {
    const x = Tensor.from(randomF32(M * K), [M, K]);
    const wf = randomF32(N * K, 0.05);
    const weights: [string, Weight][] = [
      ['f32', Tensor.from(wf, [N, K])],
      ['nf4', quantizeNF4(wf, [N, K], { doubleQuant: true })],
    ];
    const flops = 2 * M * N * K;
    for (const [wname, w] of weights) {
      const ms = await medianMs(`linear ${wname} ${label}`, () => linearForward(x, w).dispose());
      rows.push({
        suite: 'linear',
        case: `linear fwd ${wname} ${label}`,
        metric: 'GFLOP/s',
        value: flops / ms / 1e6,
        baseline: 'naive JS',
        baselineValue: naiveRate,
        peak,
      });
      const r = 16;
      const lora = {
        A: Tensor.from(randomF32(r * K, 0.01), [r, K]),
        B: Tensor.from(randomF32(N * r, 0.01), [N, r]),
        scale: 2,
        dropout: 0.05,
        seed: 1,
      };
      const dy = Tensor.from(randomF32(M * N), [M, N]);
      const loraFlops = flops + 2 * M * r * (K + N);
      const fb = await medianMs(
        `lora ${wname} ${label}`,
        () => {
          const { y, xa } = loraLinearForward(x, w, null, lora);
          const g = loraLinearBackward(dy, x, w, lora, xa);
          y.dispose();
          xa.dispose();
          g.dx?.dispose();
          g.dA.dispose();
          g.dB.dispose();
        },
        1000,
      );
      // forward + backward: base fwd, dX (base), and the LoRA matmuls (fwd 2, bwd 4 small ones)
      const fbFlops = 2 * flops + 3 * (loraFlops - flops);
      rows.push({
        suite: 'linear',
        case: `lora_linear r=16 fwd+bwd ${wname} ${label}`,
        metric: 'GFLOP/s',
        value: fbFlops / fb / 1e6,
        baseline: 'naive JS',
        baselineValue: naiveRate,
        peak,
      });
      if (wname === 'f32' && M === 1024) {
        const bw = await medianMs(`linear bwd ${label}`, () => {
          const g = linearBackward(dy, x, w, { dw: true });
          g.dx?.dispose();
          g.dw?.dispose();
        });
        rows.push({
          suite: 'linear',
          case: `linear bwd (dX+dW) f32 ${label}`,
          metric: 'GFLOP/s',
          value: (2 * flops) / bw / 1e6,
          baseline: 'naive JS',
          baselineValue: naiveRate,
          peak,
        });
      }
    }
  }
  return rows;
}
