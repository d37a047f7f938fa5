#!/usr/bin/env bash
# Runs on the GPU machine (see scripts/device-pack.sh): unpacks Node, then runs `npm run
# bench:gpu`'s script (test:gpu + PyTorch peers + our kernels), writing everything to $OUT.
set -uo pipefail
OUT=${OUT:-device-out}
mkdir -p "$OUT" /tmp/bin
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.device/node.xz'), open('/tmp/bin/node','wb'))"
chmod +x /tmp/bin/node
export PATH=/tmp/bin:$PATH
export LD_LIBRARY_PATH=$PWD/.device/lib:${LD_LIBRARY_PATH:-}  # libgomp, in case the machine lacks it
rm -rf node_modules && cp -r .device/nm node_modules  # fresh: a warm machine keeps the last run's copy
export PLF_SHARED=$PWD/.device/shared
node dist/bin/plf-native.js info --json > "$OUT/info.json"
OUT=$OUT timeout 540 bash scripts/bench-gpu.sh 2>&1 | tee "$OUT/bench-gpu.txt"
