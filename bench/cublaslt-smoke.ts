// Run first by `npm run bench:gpu`, in a process of its own: bf16 and f16 matmuls (x·Wᵀ and dy·W) through
// the optional cuBLASLt against the f32 kernel. A library that misbehaves (or crashes the process) then
// turns cuBLASLt off for the rest of the run instead of taking the whole run down.
import { Tensor, info, setMatmulPrecision, quantizeNF4 } from '../lib/index.js';
import { linearForward, linearBackward, type Weight } from '../lib/ops/index.js';
import { nf4To } from '../lib/ops/nf4.js';
import { randomF32 } from './util.js';

const c = info().cuda;
if (!c.usable || !c.cublasLt.loaded) {
  console.log(`cuBLASLt smoke: not used (${c.usable ? c.cublasLt.reason : c.reason})`);
  process.exit(0);
}
const [M, K, N] = [256, 512, 384];
const x = Tensor.from(randomF32(M * K), [M, K]).to('cuda');
const wf = Tensor.from(randomF32(N * K, 0.05), [N, K]);
const weights = { f32: wf.to('cuda'), nf4: nf4To(quantizeNF4(wf, undefined, { doubleQuant: true }), 'cuda') };
let worst = 0;
// x·Wᵀ (forward) and dy·W (the backward's dx): a wrong transpose in either turns cuBLASLt off here
// instead of failing test:gpu later
const dy = Tensor.from(randomF32(M * N), [M, N]).to('cuda');
const products: Record<string, (w: Weight) => Float32Array> = {
  'x·Wᵀ': (w) => linearForward(x, w).toFloat32(),
  'dy·W': (w) => linearBackward(dy, x, w, { dx: true }).dx!.toFloat32(),
};
for (const [name, w] of Object.entries(weights))
  for (const [product, run] of Object.entries(products)) {
    setMatmulPrecision('highest');
    const ref = run(w);
    for (const p of ['bf16', 'f16'] as const) {
      setMatmulPrecision(p);
      const got = run(w);
      let md = 0,
        mr = 0;
      for (let i = 0; i < ref.length; i++) {
        md = Math.max(md, Math.abs(got[i] - ref[i]));
        mr = Math.max(mr, Math.abs(ref[i]));
      }
      worst = Math.max(worst, md / mr);
      console.log(`cuBLASLt smoke: ${product}, ${name} weight, ${p}: ${(md / mr).toExponential(2)} relative to the f32 kernel`);
    }
  }
setMatmulPrecision('highest');
console.log(`cuBLASLt smoke: ${c.cublasLt.library} version ${c.cublasLt.version}: ${worst < 2e-2 ? 'ok' : 'WRONG'}`);
process.exit(worst < 2e-2 ? 0 : 1);
