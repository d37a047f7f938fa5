#!/usr/bin/env bash
# `npm run bench:gpu` (the full call) or `PLF_GPU_CALL=quick npm run bench:gpu` (the quick call): on a
# GPU machine, build if needed, then in the order that loses the least to a timeout:
#   quick (≤ 3 min): test:gpu, the PyTorch peers on a 2-layer Mistral-7B, a 2-layer Mistral-shaped
#                    QLoRA step and decode, the kernel table
#   full  (≤ 8 min): the 32-layer Mistral-7B step in each precision/checkpointing setting and decode
#                    with per-op profiles, the kernel table, then test:gpu
# Every row lands in $OUT/bench-gpu.json as it is measured ({case, unit, ours, peer, peerName, ratio,
# goal, met, matmul}), with the call's date, card, driver and commit, and the peft interop check;
# scripts/gpu-results.mjs files it
# under bench/results/gpu/ and regenerates the README's table. OUT defaults to ./bench-gpu-out.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-gpu-out}
CALL=${PLF_GPU_CALL:-full}
mkdir -p "$OUT"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "bench:gpu: no NVIDIA GPU here (nvidia-smi missing or finds no device); nothing to measure"
  exit 0
fi
[ -f build/Release/plf_native.node ] || npx cmake-js compile --log-level warn
[ -f dist/bench/gpu.bench.js ] || npx tsc -p tsconfig.json
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.txt"
# cuBLASLt ships in torch's CUDA wheels on the GPU machines (no toolkit on the loader path): point at it
if [ -z "${PLF_CUBLASLT:-}" ] && command -v python3 >/dev/null; then
  lt=$(python3 - <<'PY' 2>/dev/null
import glob, os, site
for d in site.getsitepackages() + [site.getusersitepackages()]:
    for p in ("nvidia/cu13/lib/libcublasLt.so.13", "nvidia/cublas/lib/libcublasLt.so.12"):
        if os.path.exists(os.path.join(d, p)): print(os.path.join(d, p)); raise SystemExit
PY
)
  [ -n "$lt" ] && export PLF_CUBLASLT=$lt && echo "bench:gpu: cuBLASLt from $lt"
fi
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)
commit=$(cat .device/commit.txt 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo unknown)
export PLF_GPU_META="{\"date\": \"$(date -u +%FT%TZ)\", \"card\": \"$card\", \"driver\": \"$driver\", \"commit\": \"$commit\", \"call\": \"$CALL\"}"
rm -f "$OUT/bench-gpu.json"
# cuBLASLt is opened at run time: if it misbehaves (or crashes its process), the rest runs without it
if ! node dist/bench/cublaslt-smoke.js 2>&1 | tee "$OUT/cublaslt-smoke.txt"; then
  echo "bench:gpu: the cuBLASLt smoke test failed (see cublaslt-smoke.txt): continuing with PLF_CUBLASLT=0"
  export PLF_CUBLASLT=0
fi
# the same for attention on tensor cores and at decoding: kernels that misbehave leave the call on
# the f32 / general ones (status 1: tensor cores, 2: decoding, 3 or a crash: both)
if [ -z "${PLF_ATTENTION_TC:-}${PLF_ATTENTION_DECODE:-}" ]; then
  node dist/bench/attention-smoke.js 2>&1 | tee "$OUT/attention-smoke.txt"
  rc=${PIPESTATUS[0]}
  if [ "$rc" = 1 ] || [ "$rc" -ge 3 ]; then
    echo "bench:gpu: the tensor-core attention smoke test failed (see attention-smoke.txt): continuing with PLF_ATTENTION_TC=0"
    export PLF_ATTENTION_TC=0
  fi
  if [ "$rc" -ge 2 ]; then
    echo "bench:gpu: the decoding attention smoke test failed (see attention-smoke.txt): continuing with PLF_ATTENTION_DECODE=0"
    export PLF_ATTENTION_DECODE=0
  fi
fi
# and for decoding as a CUDA graph: a graph that misbehaves leaves the call decoding with op calls
if [ -z "${PLF_CUDA_GRAPH:-}" ] && ! node dist/bench/graph-smoke.js 2>&1 | tee "$OUT/graph-smoke.txt"; then
  echo "bench:gpu: the CUDA-graph smoke test failed (see graph-smoke.txt): continuing with PLF_CUDA_GRAPH=0"
  export PLF_CUDA_GRAPH=0
fi
test_gpu() {
  node --test --test-concurrency=1 --test-reporter=tap dist/test/cuda.test.js dist/test/leaks.test.js dist/test/cases.test.js > "$OUT/test-gpu.tap" 2>&1
  grep -E "^(not )?ok|^# (pass|fail|skip)" "$OUT/test-gpu.tap"
}
layers=32
[ "$CALL" = quick ] && layers=2 && test_gpu
if python3 -c "import torch" 2>/dev/null; then
  PLF_PEER_LAYERS=$layers python3 bench/torch-peers.py > "$OUT/torch.json" || echo "bench:gpu: the torch peer failed (see above)"
else
  echo "bench:gpu: python3 with torch not found: ratios against PyTorch are left out"
fi
# the full call's decode peer: torch's batch-1 loop on Mistral-7B (32 layers), eager and CUDA-graph captured
peer=$(ls .device/peers/decode_peer.py ../shared/device/peers/decode_peer.py 2>/dev/null | head -1)
if [ "$CALL" = full ] && [ -n "$peer" ] && python3 -c "import torch" 2>/dev/null; then
  timeout 150 python3 "$peer" > "$OUT/decode-peer.jsonl" || echo "bench:gpu: the decode peer failed"
  export PLF_DECODE_PEER=$OUT/decode-peer.jsonl
fi
# the model rows first, in a process of their own: their peak memory is the model's alone
node dist/bench/gpu-model.bench.js "$OUT/torch.json" "$OUT/bench-gpu.json" --layers=$layers
node dist/bench/gpu.bench.js "$OUT/torch.json" "$OUT/bench-gpu.json"
[ "$CALL" = full ] && test_gpu
# interop: peft loads an adapter plf-native trained and saved; its logits against ours (fixture Llama)
fixture=${PLF_SHARED:-../shared}/fixtures/hf/llama/model
if [ -d "$fixture" ] && python3 -c "import peft, transformers" 2>/dev/null; then
  node dist/bench/peft-interop.js "$fixture" "$OUT/interop" &&
    python3 bench/peft-interop.py "$fixture" "$OUT/interop" > "$OUT/interop.json" &&
    node -e "const fs=require('fs'); const j=JSON.parse(fs.readFileSync('$OUT/bench-gpu.json','utf8')); const r=JSON.parse(fs.readFileSync('$OUT/interop.json','utf8'));
      j.rows.push({case:'peft loads our trained adapter (fixture Llama): logits', ours:'max rel diff '+r.max_rel.toExponential(2), peer:'transformers + peft', ratio:r.max_rel, goal:'≤ 1e-4 (issue 18)', met:r.ok});
      fs.writeFileSync('$OUT/bench-gpu.json', JSON.stringify(j,null,2)+'\\n')" ||
    echo "bench:gpu: the interop check failed (see above)"
fi
node -e "const j=require('./$OUT/bench-gpu.json'); const t=require('fs').readFileSync('$OUT/test-gpu.tap','utf8');
j.testGpu={pass:+(t.match(/^# pass (\d+)/m)||[0,0])[1], fail:+(t.match(/^# fail (\d+)/m)||[0,0])[1]};
require('fs').writeFileSync('$OUT/bench-gpu.json', JSON.stringify(j,null,2)+'\n')" 2>/dev/null || true
