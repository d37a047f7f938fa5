// `npm run bench:gpu` (scripts/bench-gpu.sh): our CUDA kernels against the goals of the CUDA
// backend, with PyTorch's numbers from the same GPU in the same call (bench/torch-peers.py) where
// a peer exists. Prints a table of ratios and writes it as JSON (argv: torch.json out.json).
import fs from 'node:fs';
import { Tensor, quantizeNF4, info, AdamW, setMatmulPrecision } from '../lib/index.js';
import {
  nf4To,
  loraLinearForward,
  loraLinearBackward,
  linearForward,
  useCublasLt,
  convertOwned,
  attentionForward,
  attentionBackward,
} from '../lib/ops/index.js';
import { nativeNF4 } from '../lib/ops/nf4.js';
import { nativeWeight } from '../lib/ops/linear.js';
import { addon } from '../lib/native/addon.js';
import { medianMs, randomF32, fmt, gpuRow, gpuSink, gpuSinkMerge, type GpuRow } from './util.js';

const [torchFile, outFile] = process.argv.slice(2);
// the call's facts (date, card, driver, commit, which call) come from scripts/bench-gpu.sh
gpuSink(outFile, JSON.parse(process.env.PLF_GPU_META ?? '{}') as Record<string, unknown>);
const c = info().cuda;
if (!c.usable) {
  console.log(`bench:gpu: no usable CUDA device (${c.reason})`);
  process.exit(0);
}
const torch = torchFile && fs.existsSync(torchFile) ? JSON.parse(fs.readFileSync(torchFile, 'utf8')) : null;
const sync = () => addon.synchronize();
const timed = (name: string, fn: () => void, time = 400) =>
  medianMs(
    name,
    () => {
      fn();
      sync();
    },
    time,
  );
// short kernels: 10 launches back to back, then one sync (launch and sync latency amortized)
const timed10 = async (name: string, fn: () => void) =>
  (await medianMs(
    name,
    () => {
      for (let i = 0; i < 10; i++) fn();
      sync();
    },
    400,
  )) / 10;
const rows: GpuRow[] = [];
const row = (name: string, ours: string, peer: string, ratio: number, goal: string, met: boolean | null) =>
  gpuRow(rows, { case: name, ours, peer, ratio, goal, met });

console.log(
  `device ${c.name} (cc ${c.computeCapability}); torch peer: ${torch ? `${torch.device}, torch ${torch.torch}` : 'none (python3/torch missing)'}`,
);
// with cuBLASLt on the machine, the bf16 rows use it and our own tensor-core kernel is timed beside it
const lt0 = c.cublasLt.loaded,
  ltBackends = lt0 ? [true, false] : [false];
const backendName = (lt: boolean) => (lt ? 'bf16 cuBLASLt' : 'bf16 TC, ours');
console.log(`cuBLASLt: ${lt0 ? `${c.cublasLt.library} ${c.cublasLt.version}` : c.cublasLt.reason}`);
const [N, K] = [14336, 4096];
const src = Tensor.empty([N, K], 'bf16', 'cuda'),
  dst = Tensor.empty([N, K], 'bf16', 'cuda');
const copyMs = await timed10('copy', () => dst.handle.copyFrom(src.handle));
const copyGBs = (2 * N * K * 2) / copyMs / 1e6;
row(
  'copy bf16 D2D (ours)',
  `${fmt(copyGBs)} GB/s`,
  torch ? `torch ${fmt(torch.copy_GBps)} GB/s` : '–',
  torch ? copyGBs / torch.copy_GBps : NaN,
  'reference',
  null,
);

const w = randomF32(N * K, 0.02);
const q = nf4To(quantizeNF4(w, [N, K], { doubleQuant: true }), 'cuda');
const nq = nativeNF4(q);
const outBf = Tensor.empty([N, K], 'bf16', 'cuda');
const deqMs = await timed10('dequant', () => addon.nf4_dequantize(nq, outBf.handle));
const deqBytes = (N * K) / 2 + (N * K) / 64 + N * K * 2;
const deqGBs = deqBytes / deqMs / 1e6;
row(
  'NF4 dequantize 14336×4096 → bf16',
  `${fmt(deqGBs)} GB/s`,
  `copy ${fmt(copyGBs)} GB/s`,
  deqGBs / copyGBs,
  '≥ 0.90 of copy',
  deqGBs / copyGBs >= 0.9,
);

const zMs = await timed('memset', () => {
  Tensor.zeros([N, K], 'bf16', 'cuda').dispose();
});
row(
  'write-only: zeros bf16 14336×4096 (info)',
  `${fmt((N * K * 2) / zMs / 1e6)} GB/s`,
  `copy ${fmt(copyGBs)} GB/s`,
  (N * K * 2) / zMs / 1e6 / copyGBs,
  'write bandwidth',
  null,
);
const qp = nf4To(quantizeNF4(w, [N, K], { doubleQuant: false }), 'cuda');
const nqp = nativeNF4(qp);
const deqPMs = await timed10('dequant plain', () => addon.nf4_dequantize(nqp, outBf.handle));
const deqPGBs = ((N * K) / 2 + (N * K) / 16 + N * K * 2) / deqPMs / 1e6;
row('NF4 dequantize, plain f32 absmax (info)', `${fmt(deqPGBs)} GB/s`, `copy ${fmt(copyGBs)} GB/s`, deqPGBs / copyGBs, 'info', null);

const x1 = Tensor.from(randomF32(K), [1, K]).to('cuda');
const y1 = Tensor.empty([1, N], 'f32', 'cuda');
const gemvMs = await timed10('gemv', () => addon.linear_forward(x1.handle, nativeWeight(q), null, y1.handle));
const gemvGBs = ((N * K) / 2 + (N * K) / 64) / gemvMs / 1e6;
row(
  'NF4 GEMV 1×4096 · (14336×4096)ᵀ',
  `${fmt(gemvGBs)} GB/s`,
  `copy ${fmt(copyGBs)} GB/s`,
  gemvGBs / copyGBs,
  '≥ 0.85 of copy',
  gemvGBs / copyGBs >= 0.85,
);

// the tensor-core GEMM alone: x·Wᵀ at 4096³ with an NF4 and a bf16 weight
{
  setMatmulPrecision('bf16');
  const x = Tensor.from(randomF32(4096 * 4096), [4096, 4096]).to('cuda');
  const wq = nf4To(quantizeNF4(randomF32(4096 * 4096, 0.02), [4096, 4096], { doubleQuant: true }), 'cuda');
  const wb = Tensor.from(randomF32(4096 * 4096, 0.02), [4096, 4096]).to('cuda');
  for (const lt of ltBackends)
    for (const [name, wt] of [
      ['NF4', wq],
      ['f32', wb],
    ] as const) {
      useCublasLt(lt);
      const ms = await timed(
        `gemm ${name}`,
        () => {
          linearForward(x, wt).dispose();
        },
        200,
      );
      const tf = (2 * 4096 ** 3) / ms / 1e9;
      const peer = torch?.gemm_TFLOPs;
      row(
        `linear fwd 4096³, ${name} weight, ${backendName(lt)} (info)`,
        `${fmt(tf)} TFLOP/s`,
        peer ? `torch bf16 GEMM ${fmt(peer)} TFLOP/s` : '–',
        peer ? tf / peer : NaN,
        'TFLOP/s',
        null,
      );
    }
  useCublasLt(true);
  setMatmulPrecision('highest');
  x.dispose();
  wb.dispose();
}

// causal GQA attention at the Mistral-7B step's shapes, forward + backward: on tensor cores (bf16
// precision, bf16 activations in place) against torch's SDPA, and the f32 tiled kernels for reference
{
  const [Bq, Tq, Hq, Hkv, Dh] = [8, 512, 32, 8, 128];
  const peer = torch?.sdpa?.fwd_bwd_ms as number | undefined;
  for (const [prec, act] of [
    ['bf16', 'bf16'],
    ['highest', 'f32'],
  ] as const) {
    setMatmulPrecision(prec);
    const mk = (h: number) => convertOwned(Tensor.from(randomF32(Bq * Tq * h * Dh), [Bq, Tq, h, Dh]).to('cuda'), act);
    const [q, k, v, g] = [mk(Hq), mk(Hkv), mk(Hkv), mk(Hq)];
    const ms = await timed(
      `attention ${prec}`,
      () => {
        const f = attentionForward(q, k, v);
        const b = attentionBackward(g, q, k, v, f.out, f.lse);
        for (const t of [f.out, f.lse, b.dq, b.dk, b.dv]) t.dispose();
      },
      300,
    );
    const tc = prec === 'bf16' && process.env.PLF_ATTENTION_TC !== '0';
    row(
      `attention fwd+bwd causal GQA 8×512, 32/8 heads of 128 (${tc ? 'tensor cores, bf16' : 'f32 tiled'}) (info)`,
      `${fmt(ms)} ms`,
      peer ? `torch SDPA bf16 ${fmt(peer)} ms` : '–',
      peer ? ms / peer : NaN,
      'info: × SDPA',
      null,
    );
    for (const t of [q, k, v, g]) t.dispose();
  }
  setMatmulPrecision('highest');
}

// decoding's attention: one query row against a 1,536-position bf16 cache (Mistral-7B's heads), the
// split-over-keys kernel against torch's SDPA; GB/s on the cache's bytes (K and V read once)
{
  const [Tk, Hq, Hkv, Dh] = [1536, 32, 8, 128];
  const peer = torch?.sdpa_decode?.ms as number | undefined;
  const mk = (t: number, h: number) => convertOwned(Tensor.from(randomF32(t * h * Dh), [1, t, h, Dh]).to('cuda'), 'bf16');
  const [q, k, v] = [mk(1, Hq), mk(Tk, Hkv), mk(Tk, Hkv)];
  const ms = await timed10('attention decode', () => {
    const f = attentionForward(q, k, v, { kvLen: Tk });
    f.out.dispose();
    f.lse.dispose();
  });
  const gbs = (2 * Tk * Hkv * Dh * 2) / ms / 1e6;
  row(
    `attention at decoding, 1 query vs ${Tk} cached keys, 32/8 heads of 128, bf16 (split over keys) (info)`,
    `${fmt(ms * 1e3)} µs, ${fmt(gbs)} GB/s`,
    peer ? `torch SDPA bf16 ${fmt(peer * 1e3)} µs` : '–',
    peer ? ms / peer : NaN,
    'info: × SDPA',
    null,
  );
  for (const t of [q, k, v]) t.dispose();
}

const T = 4096,
  r = 16;
// 'bf16' rows use cuBLASLt when the machine has it; 'ours' is our tensor-core kernel on the first shape for comparison.
// Activations in bf16 (read and written in place) as torch's peer has them; one f32-activation row for reference.
const shapes: [number, number, 'bf16' | 'ours' | 'f16' | 'highest', 'f32' | 'bf16' | 'f16'][] = [
  [4096, 4096, 'highest', 'f32'],
  ...(lt0 ? ([[4096, 4096, 'ours', 'bf16']] as [number, number, 'ours', 'bf16'][]) : []),
  [4096, 4096, 'f16', 'f16'],
  [4096, 4096, 'bf16', 'f32'],
  [4096, 4096, 'bf16', 'bf16'],
  [4096, 14336, 'bf16', 'bf16'],
  [14336, 4096, 'bf16', 'bf16'],
  [4096, 1024, 'bf16', 'bf16'],
];
for (const [k, n, precision, act] of shapes) {
  setMatmulPrecision(precision === 'highest' ? 'highest' : precision === 'f16' ? 'f16' : 'bf16');
  useCublasLt(precision !== 'ours');
  const qw = nf4To(quantizeNF4(randomF32(n * k, 0.02), [n, k], { doubleQuant: true }), 'cuda');
  const x = convertOwned(Tensor.from(randomF32(T * k), [T, k]).to('cuda'), act);
  const dy = convertOwned(Tensor.from(randomF32(T * n), [T, n]).to('cuda'), act);
  const A = Tensor.from(randomF32(r * k, 0.01), [r, k]).to('cuda'),
    B = Tensor.from(randomF32(n * r, 0.01), [n, r]).to('cuda');
  const dA = Tensor.zeros([r, k], 'f32', 'cuda'),
    dB = Tensor.zeros([n, r], 'f32', 'cuda');
  const lora = { A, B, scale: 2, dropout: 0.05, seed: 7 };
  const ms = await timed(
    `qlora ${k}x${n}`,
    () => {
      const f = loraLinearForward(x, qw, null, lora);
      const b = loraLinearBackward(dy, x, qw, lora, f.xa, { dA, dB, accumulate: true });
      f.y.dispose();
      f.xa.dispose();
      b.dx?.dispose();
    },
    200,
  );
  const peer = torch?.linear?.[`${k}x${n}`];
  const ratio = peer ? ms / peer.base_ms : NaN;
  const label =
    precision === 'highest'
      ? 'f32'
      : precision === 'f16'
        ? `f16 ${lt0 ? 'cuBLASLt' : 'TC, ours'}`
        : backendName(precision === 'bf16' && lt0);
  row(
    `QLoRA r=16 fwd+bwd, 4096 tok, ${k}→${n} (${label}, ${act} activations)${precision === 'bf16' && act === 'f32' ? ' (info)' : ''}`,
    `${fmt(ms)} ms`,
    peer ? `bf16 base ${fmt(peer.base_ms)} ms, LoRA ${fmt(peer.lora_ms)}` : '–',
    ratio,
    precision === 'bf16' && act === 'f32' ? 'info' : '≤ 1.10× bf16 base',
    peer && !(precision === 'bf16' && act === 'f32') ? ratio <= 1.1 : null,
  );
  for (const t of [x, dy, A, B, dA, dB]) t.dispose();
}
setMatmulPrecision('highest');
useCublasLt(true);

const P = 42_000_000,
  parts = 6;
const ps = Array.from({ length: parts }, () => Tensor.from(randomF32(P / parts, 0.02)).to('cuda'));
const gs = Array.from({ length: parts }, () => Tensor.from(randomF32(P / parts)).to('cuda'));
// torch's fused AdamW neither checks for inf/nan nor clips: skipNonFinite false is the same work (one pass)
for (const skipNonFinite of [false, true]) {
  const opt = new AdamW(ps, { lr: 1e-4, weightDecay: 0.01, skipNonFinite });
  const adamMs = await timed10('adamw', () => {
    opt.stepWith(gs);
  });
  const adamGBs = (P * 28) / adamMs / 1e6;
  row(
    `AdamW 42M f32 params (28 B/param)${skipNonFinite ? ', inf/nan check pass (info)' : ''}`,
    `${fmt(adamGBs)} GB/s`,
    torch ? `torch fused ${fmt(torch.adamw.GBps_28B)} GB/s` : '–',
    adamGBs / 2700,
    '≥ 2,700 GB/s',
    skipNonFinite ? null : adamGBs >= 2700,
  );
  opt.dispose();
}

gpuSinkMerge({ torch });
