#!/usr/bin/env bash
# Runs on the GPU machine (see scripts/device-pack.sh): reports the device, runs the CUDA-vs-CPU
# tests, and writes everything to $OUT (or ./device-out).
set -uo pipefail
OUT=${OUT:-device-out}
mkdir -p "$OUT" /tmp/bin
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.device/node.xz'), open('/tmp/bin/node','wb'))"
chmod +x /tmp/bin/node
export PATH=/tmp/bin:$PATH
export LD_LIBRARY_PATH=$PWD/.device/lib:${LD_LIBRARY_PATH:-}  # libgomp, in case the machine lacks it
[ -e node_modules ] || cp -r .device/nm node_modules
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.txt"
node dist/bin/plf-native.js info --json | tee "$OUT/info.json"
node --test --test-reporter=tap dist/test/cuda.test.js dist/test/tensor.test.js dist/test/nf4.test.js 2>&1 | tee "$OUT/tests.tap" | grep -E "^(not )?ok|^# (pass|fail|skip)"
node dist/bench/gpu-smoke.js | tee "$OUT/gpu-smoke.txt"
