#!/usr/bin/env bash
# Runs on the GPU machine (see scripts/device-pack.sh): unpacks Node, then runs `npm run bench:gpu`'s
# script, writing everything to $OUT. PLF_GPU_CALL=quick (≤ 3 min) or full (default, ≤ 8 min).
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
limit=530
[ "${PLF_GPU_CALL:-full}" = quick ] && limit=170
OUT=$OUT PLF_GPU_CALL=${PLF_GPU_CALL:-full} timeout $limit bash scripts/bench-gpu.sh 2>&1 | tee "$OUT/bench-gpu.txt"
