#!/usr/bin/env bash
# Builds and runs a CUDA kernel check on the CPU emulator (test/cuda-emu/emu.h): no GPU needed.
# usage: test/cuda-emu/run.sh attention|lora|gemv|optim|norm|loss|nf4|activation|rope|embedding|copy|gemm [build|run]   (needs a C++20 compiler with <barrier>: g++ >= 11)
# (build or run alone: the test compiles every check at once, two at a time, then runs each)
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:-attention}
step=${2:-all}
mkdir -p build/cuda-emu
ref=()  # the CPU reference of the same op family, when the check compares against it
[ -f "native/cpu/$name.cpp" ] && ref=("native/cpu/$name.cpp")
# or the files a check names itself, one "// emu-link: PATH" line each (instead of the family's)
links=$(sed -n 's|^// emu-link: *||p' "test/cuda-emu/$name.cpp")
[ -n "$links" ] && mapfile -t ref <<<"$links"
[ "$step" = run ] || "${CXX:-g++}" -std=c++20 -O1 -fno-strict-aliasing -ffp-contract=off -pthread -Inative/include -Inative/cuda -Itest/cuda-emu \
  "test/cuda-emu/$name.cpp" "${ref[@]}" -o "build/cuda-emu/$name"
[ "$step" = build ] || "build/cuda-emu/$name"
