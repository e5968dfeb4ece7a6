#!/bin/sh
# Builds kernel_bench (no Python) with the flags CMakeLists.txt gives the extension.
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp/hemotwin_kernel_bench}
g++ -std=c++17 -O3 -fno-math-errno -march=native -fopenmp -I"$root/cpp/include" $EXTRA_FLAGS \
  "$root/benchmarks/kernel/kernel_bench.cpp" "$root"/cpp/src/*.cpp -o "$out"
echo "$out"
