#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the stand-alone GPU benchmark (no Python needed on the GPU machine) here, for sm_90:
#   sh benchmarks/standalone/build.sh [OUT]   (default .devicedata/gpu_standalone)
# then carry .devicedata (with python benchmarks/standalone/dump_lattices.py's lattices) to the device.
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/.devicedata/gpu_standalone}
mkdir -p "$(dirname "$out")"
nvcc -std=c++17 -O3 -arch=sm_90 -DHEMOTWIN_WITH_CUDA=1 -I"$root/cpp/include" -Xcompiler -fopenmp -Xcompiler -O3 \
  -o "$out" "$root/benchmarks/standalone/gpu_standalone.cpp" "$root"/cpp/src/*.cpp "$root/cuda/cuda_backend.cu" -lgomp
echo "$out"
