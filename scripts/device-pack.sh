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
for m in node-gyp-build tinybench yargs cliui escalade get-caller-file require-directory string-width strip-ansi \
         ansi-regex wrap-ansi ansi-styles y18n yargs-parser emoji-regex get-east-asian-width; do
  [ -d "node_modules/$m" ] && cp -r "node_modules/$m" .device/nm/
done
mkdir -p .device/lib && cp -L "$(g++ -print-file-name=libgomp.so.1)" .device/lib/
du -sh .device
