#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole GPU check in ONE call on a lent GPU machine: build with CUDA, run the CPU/GPU parity tests
# and every cuda-parametrized solver test, `hemotwin verify --device cuda`, then the GPU benchmark.
# Inputs the GPU image cannot make (no SimpleITK/VTK there): run `python benchmarks/make_device_inputs.py`
# here first and carry .devicedata/ (and, to skip the build there, run benchmarks/build_device_extension.sh
# here and carry _devicebuild/ too). Results land in $OUT (or /tmp/gpu_check).
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
t0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv | tee "$OUT/gpu.txt"
echo "== build (HEMOTWIN_CUDA=ON)"
# A module built here beforehand (benchmarks/build_device_extension.sh, carried as _devicebuild/) saves
# the build's minutes, if it was built from these very sources for this Python and it imports here.
use_carried() {
  suffix=$($PY -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
  so=$(ls _devicebuild/_core*"$suffix" 2>/dev/null | head -1)
  [ -n "$so" ] || { echo "no carried module for $suffix"; return 1; }
  [ "$(cat _devicebuild/SOURCES_SHA256 2>/dev/null)" = "$(sh benchmarks/device_sources_hash.sh)" ] ||
    { echo "carried module is from other sources"; return 1; }
  cp "$so" python/hemotwin/
  probe='import hemotwin; assert hemotwin.build_info()["cuda_compiled"]'
  root=$PWD
  if ! (cd /tmp && PYTHONPATH="$root/python" $PY -c "$probe"); then
    # the image may lack the OpenMP runtime it links: the carried copy, for this process tree only
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$root/_devicebuild"
    (cd /tmp && PYTHONPATH="$root/python" $PY -c "$probe") ||
      { rm -f "python/hemotwin/$(basename "$so")"; echo "carried module does not import"; return 1; }
  fi
  export PYTHONPATH="$root/python"
  echo "using the carried module ($(cat _devicebuild/BUILT_WITH))"
}
if use_carried; then
  :
# A build here costs minutes of the session's 15: each try is capped, and the checks below still run
# (and say what is missing) if both fail.
# Portable CPU code (HEMOTWIN_NATIVE=OFF), as build_device_extension.sh makes the carried module.
elif HEMOTWIN_CUDA=ON HEMOTWIN_NATIVE=OFF CMAKE_BUILD_PARALLEL_LEVEL=16 timeout 360 $PY -m pip install --no-build-isolation --no-deps \
    -C build-dir=/tmp/hemotwin-gpu-build . > "$OUT/build.log" 2>&1; then
  echo "pip install . (scikit-build-core) ok"
else
  # The GPU image's build tools may be older than pyproject asks: build the same CMake project directly.
  tail -15 "$OUT/build.log"; echo "pip build failed; falling back to cmake"
  gen=""; command -v ninja > /dev/null && gen="-G Ninja"  # the image may lack ninja: make then
  cmake -S . -B /tmp/hemotwin-cmake $gen -DCMAKE_BUILD_TYPE=Release -DHEMOTWIN_CUDA=ON -DHEMOTWIN_NATIVE=OFF \
    -Dpybind11_DIR="$($PY -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v $PY)" >> "$OUT/build.log" 2>&1 &&
  timeout 300 cmake --build /tmp/hemotwin-cmake -j 16 >> "$OUT/build.log" 2>&1 || { tail -60 "$OUT/build.log"; exit 1; }
  cp /tmp/hemotwin-cmake/_core*.so python/hemotwin/
  export PYTHONPATH="$PWD/python"
fi
echo "build $(( $(date +%s) - t0 )) s"
cd /tmp  # import the installed package, not the source tree
$PY -c "import hemotwin, json; print(json.dumps(hemotwin.build_info())); print('cuda_available', hemotwin.cuda_available())"
cd - > /dev/null
echo "== parity and cuda tests"
HEMOTWIN_PARITY_DOMAIN=.devicedata/demo_domain.npz $PY -m pytest -q -p no:cacheprovider \
  tests/backends tests/unit/test_simulation_core.py tests/unit/test_core_lattice.py tests/unit/test_bouzidi_walls.py \
  tests/physics/test_verification.py tests/physics/test_storage16.py tests/unit/test_link_uploads.py \
  -k "cuda or parity" -rP 2>&1 | tee "$OUT/pytest.log" | grep -E "^parity|passed|failed|error|FAILED|SKIPPED" | tail -30
echo "tests $(( $(date +%s) - t0 )) s"
echo "== benchmark"
$PY benchmarks/gpu_bench.py --size 256 --aorta .devicedata/aorta_domain.npz --json "$OUT/gpu_bench.json"
echo "== hemotwin verify --device cuda"
for prec in float64 float32; do
  $PY -m hemotwin.cli verify poiseuille --device cuda --precision $prec --json | tee -a "$OUT/verify.jsonl"
  $PY -m hemotwin.cli verify womersley --device cuda --precision $prec --json | tee -a "$OUT/verify.jsonl"
done
$PY -m hemotwin.cli verify poiseuille --device cuda --precision float16 --json | tee -a "$OUT/verify.jsonl"
$PY -m hemotwin.cli verify order --device cuda --json | tee -a "$OUT/verify.jsonl"
echo "verify $(( $(date +%s) - t0 )) s"
echo "== the Python coupling loop's share of a clinical run (RCR outlets, coupling every 1 / 10 steps)"
timeout 120 $PY benchmarks/coupling_overhead.py --device cuda \
  --json "$OUT/coupling_overhead.json" 2>&1 | tail -3 || echo "coupling overhead: not measured"
echo "== NVIDIA compute-sanitizer (memcheck, initcheck) over every kernel variant on small cases, if the image has it"
# the hardware's own view of what the CUDA emulation's memory checker found clean (cuda/emulation).
# Last and optional: skipped when less than ~3.5 min of a 10-minute call would be left for it, so the
# figures above come back whole (a call past its limit is killed).
elapsed=$(( $(date +%s) - t0 ))
if [ "$elapsed" -gt "${GPU_CHECK_SANITIZER_BEFORE_S:-390}" ]; then
  echo "compute-sanitizer: skipped, ${elapsed} s already spent (rerun alone: compute-sanitizer --tool memcheck $PY cuda/emulation/memcheck_cases.py)"
elif command -v compute-sanitizer > /dev/null; then
  for tool in memcheck initcheck; do
    timeout 90 compute-sanitizer --tool $tool --error-exitcode 3 $PY cuda/emulation/memcheck_cases.py \
      > "$OUT/sanitizer_$tool.log" 2>&1; echo "compute-sanitizer $tool: exit $?"; tail -3 "$OUT/sanitizer_$tool.log"
  done
else
  echo "compute-sanitizer: not on this image"
fi
echo "total $(( $(date +%s) - t0 )) s"
