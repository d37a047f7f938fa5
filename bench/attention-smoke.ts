// Run by `npm run bench:gpu` after the cuBLASLt smoke test, in a process of its own: attention on
// tensor cores (matmul precision bf16, f32 and bf16 activations) forward and backward against the f32
// kernels on the same GPU, then decoding's attention (one query row, split over keys; f32 and bf16
// caches) against the CPU. Kernels that misbehave (or crash the process) then leave the rest of the
// call on the f32 attention kernels (PLF_ATTENTION_TC=0) or the general ones at decoding
// (PLF_ATTENTION_DECODE=0) instead of taking the model rows down. Exit status: 1 tensor cores
// wrong, 2 decoding wrong, 3 both.
import { Tensor, info, setMatmulPrecision } from '../lib/index.js';
import { attentionForward, attentionBackward, convert } from '../lib/ops/index.js';
import { randomF32 } from './util.js';

const c = info().cuda;
if (!c.usable) {
  console.log(`attention smoke: no usable CUDA device (${c.reason})`);
  process.exit(0);
}
const [B, T, Hq, Hkv, D] = [2, 150, 8, 2, 128];
const mk = (h: number) => Tensor.from(randomF32(B * T * h * D), [B, T, h, D]).to('cuda');
const [q, k, v, g] = [mk(Hq), mk(Hkv), mk(Hkv), mk(Hq)];
const run = (x: Tensor[]) => {
  const f = attentionForward(x[0], x[1], x[2]);
  const b = attentionBackward(x[3], x[0], x[1], x[2], f.out, f.lse);
  return [f.out, b.dq, b.dk, b.dv].map((t) => t.toFloat32());
};
setMatmulPrecision('highest');
const ref = run([q, k, v, g]);
let worst = 0;
for (const act of ['f32', 'bf16'] as const) {
  setMatmulPrecision('bf16');
  const got = run(act === 'f32' ? [q, k, v, g] : [q, k, v, g].map((t) => convert(t, 'bf16')));
  ['out', 'dq', 'dk', 'dv'].forEach((name, j) => {
    let md = 0,
      mr = 0;
    for (let i = 0; i < ref[j].length; i++) {
      md = Math.max(md, Math.abs(got[j][i] - ref[j][i]));
      mr = Math.max(mr, Math.abs(ref[j][i]));
    }
    const e = Number.isFinite(md / mr) ? md / mr : Infinity;
    worst = Math.max(worst, e);
    console.log(`attention smoke: ${name}, ${act} activations: ${e.toExponential(2)} relative to the f32 kernels`);
  });
}
setMatmulPrecision('highest');
const tcOk = worst < 5e-2;
console.log(`attention smoke: tensor-core attention ${tcOk ? 'ok' : 'WRONG'}`);

// decoding: one query row per batch row against a 300-position cache (the last 20 unfilled)
let worstDecode = 0;
{
  const [Tk, cap] = [280, 300];
  const mask = Tensor.from(
    BigInt64Array.from({ length: B * cap }, (_, i) => (i % cap < Tk ? 1n : 0n)),
    [B, cap],
  );
  for (const act of ['f32', 'bf16'] as const) {
    const mkc = (t: number, h: number) => convert(Tensor.from(randomF32(B * t * h * D), [B, t, h, D]), act);
    const [qc, kc, vc] = [mkc(1, Hq), mkc(cap, Hkv), mkc(cap, Hkv)];
    const want = attentionForward(qc, kc, vc, { mask, kvLen: Tk }).out.toFloat32();
    const got = attentionForward(qc.to('cuda'), kc.to('cuda'), vc.to('cuda'), { mask: mask.to('cuda'), kvLen: Tk }).out.toFloat32();
    let md = 0,
      mr = 0;
    for (let i = 0; i < want.length; i++) {
      md = Math.max(md, Math.abs(got[i] - want[i]));
      mr = Math.max(mr, Math.abs(want[i]));
    }
    const e = Number.isFinite(md / mr) ? md / mr : Infinity;
    worstDecode = Math.max(worstDecode, e);
    console.log(`attention smoke: decoding, ${act} cache: ${e.toExponential(2)} relative to the CPU`);
  }
}
const decodeOk = worstDecode < 2e-2;
console.log(`attention smoke: decoding attention ${decodeOk ? 'ok' : 'WRONG'}`);
process.exit((tcOk ? 0 : 1) + (decodeOk ? 0 : 2));
