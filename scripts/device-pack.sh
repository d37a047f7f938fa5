#!/usr/bin/env bash
# Prepares what the GPU machine needs (it has no Node.js and no network): Node itself, the runtime
# node_modules (no TypeScript), the built addon and the compiled JS. Run here, then carry
# `.device`, `build/Release` and `dist` to the device and run scripts/device-check.sh there.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
[ -f build/Release/plf_native.node ] || npx cmake-js compile
npm run build:ts >/dev/null
bash ../shared/device/pack-node.sh >/dev/null
rm -rf .device/nm && mkdir -p .device/nm
# every runtime dependency (the library imports tokenizers, jinja, parquet); not the TypeScript compiler
for m in node_modules/* node_modules/.bin; do
  case "$(basename "$m")" in typescript|@types|.bin) ;; *) cp -r "$m" .device/nm/ ;; esac
done
# the HF golden fixtures (generated test vectors) for the model-on-CUDA tests
rm -rf .device/shared && mkdir -p .device/shared/fixtures && cp -r ../shared/fixtures/hf .device/shared/fixtures/
# the PyTorch decode peer (a static-KV, CUDA-graph batch-1 loop) run beside our decode in the full call
mkdir -p .device/peers && cp ../shared/device/peers/decode_peer.py .device/peers/
mkdir -p .device/lib && cp -L "$(g++ -print-file-name=libgomp.so.1)" .device/lib/
# the commit the call measures (the device gets a copy of the tree, not its history)
echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- lib native bench scripts || echo -dirty)" > .device/commit.txt
du -sh .device
