#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds hemotwin._core with the CUDA backend HERE, for the lent GPU machine's Python (3.12 on its image),
# so benchmarks/gpu_check.sh can skip its 3-5 minute build (one CUDA translation unit, serial on any
# number of cores) and spend the device time on the checks. Carry _devicebuild/ with .devicedata/.
# gpu_check.sh uses the carried module only if the sources hash the same and it imports there; otherwise
# it builds as before.
# Usage: sh benchmarks/build_device_extension.sh [PYTHON3.12]   (default: pyenv's 3.12 in a venv)
set -eu
cd "$(dirname "$0")/.."
PY312=${1:-}
if [ -z "$PY312" ]; then
  base=$(ls -d /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | head -1 || true)
  base=${base:-$(command -v python3.12 || true)}
  [ -n "$base" ] || { echo "no Python 3.12 found: give its path as the first argument" >&2; exit 2; }
  [ -x /tmp/hemotwin-py312/bin/python ] || "$base" -m venv /tmp/hemotwin-py312
  /tmp/hemotwin-py312/bin/python -m pip install -q pybind11 numpy
  PY312=/tmp/hemotwin-py312/bin/python
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
rm -rf _devicebuild /tmp/hemotwin-devicebuild
# Portable CPU code (no -march=native): the GPU machine's processor is not this one.
cmake -S . -B /tmp/hemotwin-devicebuild -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEMOTWIN_CUDA=ON -DHEMOTWIN_NATIVE=OFF \
  -DSKBUILD_PROJECT_VERSION="$version" -Dpybind11_DIR="$("$PY312" -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$PY312" \
  > /tmp/hemotwin-devicebuild.log 2>&1 || { tail -30 /tmp/hemotwin-devicebuild.log; exit 1; }
cmake --build /tmp/hemotwin-devicebuild -j "$(nproc)" >> /tmp/hemotwin-devicebuild.log 2>&1 ||
  { tail -30 /tmp/hemotwin-devicebuild.log; exit 1; }
mkdir -p _devicebuild
cp /tmp/hemotwin-devicebuild/_core*.so _devicebuild/
# The OpenMP runtime it links, in case the image lacks one (used only through LD_LIBRARY_PATH there).
gomp=$(ldd _devicebuild/_core*.so | awk '/libgomp/ {print $3}')
[ -n "$gomp" ] && cp "$gomp" _devicebuild/
sh benchmarks/device_sources_hash.sh > _devicebuild/SOURCES_SHA256
echo "built for $("$PY312" -c 'import sys; print(sys.version.split()[0])') with $(nvcc --version | tail -1)" | tee _devicebuild/BUILT_WITH
ls -la _devicebuild
