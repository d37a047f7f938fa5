#!/usr/bin/env bash
# `npm run bench:gpu`: on a GPU machine, build if needed, check CUDA against the CPU (test:gpu),
# measure PyTorch's peers (python3 + torch, when present; HF+PEFT with transformers + peft) and our
# kernels and a Mistral-7B-shaped QLoRA step and decode in the same call, and
# write the ratio table to $OUT/bench-gpu.json (OUT defaults to ./bench-gpu-out).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-gpu-out}
mkdir -p "$OUT"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "bench:gpu: no NVIDIA GPU here (nvidia-smi missing or finds no device); nothing to measure"
  exit 0
fi
[ -f build/Release/plf_native.node ] || npx cmake-js compile --log-level warn
[ -f dist/bench/gpu.bench.js ] || npx tsc -p tsconfig.json
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.txt"
# cuBLASLt is opened at run time: if it misbehaves (or crashes its process), the rest runs without it
if ! node dist/bench/cublaslt-smoke.js 2>&1 | tee "$OUT/cublaslt-smoke.txt"; then
  echo "bench:gpu: the cuBLASLt smoke test failed (see cublaslt-smoke.txt): continuing with PLF_CUBLASLT=0"
  export PLF_CUBLASLT=0
fi
node --test --test-concurrency=1 --test-reporter=tap dist/test/cuda.test.js > "$OUT/test-gpu.tap" 2>&1
grep -E "^(not )?ok|^# (pass|fail|skip)" "$OUT/test-gpu.tap"
if python3 -c "import torch" 2>/dev/null; then
  python3 bench/torch-peers.py > "$OUT/torch.json" || echo "bench:gpu: the torch peer failed (see above)"
else
  echo "bench:gpu: python3 with torch not found: ratios against PyTorch are left out"
fi
node dist/bench/gpu.bench.js "$OUT/torch.json" "$OUT/bench-gpu.json"
# the model rows (Mistral-7B shapes) in a process of their own: their peak memory is the model's alone
node dist/bench/gpu-model.bench.js "$OUT/torch.json" "$OUT/bench-gpu.json"
