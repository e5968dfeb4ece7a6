#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The CUDA backend's tests WITHOUT a GPU (cuda/emulation/README.md): builds hemotwin._core with
# HEMOTWIN_CUDA=EMULATE (cuda/*.cu compiled by the host compiler against a CPU emulation of the CUDA
# runtime) in a scratch folder, then runs every cuda-parametrized test and the parity tests against it,
# the selection gpu_check.sh runs on a lent GPU, rehearses gpu_check.sh's other steps, and runs every
# kernel under the emulation's memory checker (cuda/emulation/memcheck_cases.py). Run it before
# spending a GPU loan.
# Portable CPU code (HEMOTWIN_NATIVE=OFF) as gpu_check.sh builds it. About 8 minutes to build on 2 cores.
# Usage: bash benchmarks/cuda_emulation_check.sh [pytest arguments]   (build folder: $HEMOTWIN_EMULATION_BUILD)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
B=${HEMOTWIN_EMULATION_BUILD:-/tmp/hemotwin-emulation-build}
gen=""; command -v ninja > /dev/null && gen="-G Ninja"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
echo "== build (HEMOTWIN_CUDA=EMULATE) in $B"
t0=$(date +%s)
cmake -S . -B "$B" $gen -DCMAKE_BUILD_TYPE=Release -DHEMOTWIN_CUDA=EMULATE -DHEMOTWIN_NATIVE=OFF \
  -DSKBUILD_PROJECT_VERSION="$version" -Dpybind11_DIR="$($PY -m pybind11 --cmakedir)" \
  -DPython_EXECUTABLE="$(command -v $PY)" > "$B.configure.log" 2>&1 || { tail -30 "$B.configure.log"; exit 1; }
cmake --build "$B" -j "$(nproc)" > "$B.build.log" 2>&1 || { grep -E "error|Error" -A3 "$B.build.log" | head -40; exit 1; }
echo "build $(( $(date +%s) - t0 )) s"
# the package as a plain folder with the emulated core in it; the sources stay untouched
rm -rf "$B/package"
mkdir -p "$B/package"
cp -r python/hemotwin "$B/package/"
cp "$B"/_core*.so "$B/package/hemotwin/"
export HEMOTWIN_EMULATION_PACKAGE="$B/package"
emulated() { $PY cuda/emulation/run.py "$@"; }
echo "== cuda and parity tests on the emulation"
[ -f .devicedata/demo_domain.npz ] && export HEMOTWIN_PARITY_DOMAIN=.devicedata/demo_domain.npz
status=0
emulated -m pytest -q -p no:cacheprovider tests -k "cuda or parity" -rP "$@" || status=$?
# gpu_check.sh's other steps, small: they must run to the end on the GPU (the figures here mean nothing)
echo "== rehearsal of gpu_check.sh's verify, benchmark and coupling steps (emulated: no timings)"
emulated -m hemotwin.cli verify poiseuille --device cuda --precision float32 --json > "$B/verify.json" &&
  echo "verify poiseuille --device cuda: ok" || { status=1; echo "verify poiseuille --device cuda FAILED"; }
sparse=(); [ -f .devicedata/demo_domain.npz ] && sparse=(--aorta .devicedata/demo_domain.npz)  # as gpu_check's aorta
emulated benchmarks/gpu_bench.py --size 32 "${sparse[@]}" --copy-bytes 67108864 --json "$B/gpu_bench.json" > "$B/gpu_bench.log" 2>&1 &&
  echo "gpu_bench.py: ok" || { status=1; tail -5 "$B/gpu_bench.log"; echo "gpu_bench.py FAILED"; }
emulated benchmarks/coupling_overhead.py --device cuda --tube-cells 2e4 --steps 20 > "$B/coupling.log" 2>&1 &&
  echo "coupling_overhead.py --device cuda: ok" || { status=1; tail -5 "$B/coupling.log"; echo "coupling_overhead.py FAILED"; }
echo "== memory check of every kernel (races, indices past an allocation, unwritten reads) and their coalescing"
HEMOTWIN_EMULATION_CHECK=1 emulated cuda/emulation/memcheck_cases.py "${sparse[@]/--aorta/--domain}" \
  --json "$B/memcheck.json" || status=1
exit $status
