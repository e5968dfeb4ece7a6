#!/usr/bin/env sh
# SPDX-License-Identifier: Apache-2.0
# One hash over everything the compiled core is built from: a carried _devicebuild/ module is used
# only where this prints the same on both machines. cuda/emulation is not in the device build.
cd "$(dirname "$0")/.." || exit 1
find CMakeLists.txt cpp cuda -type f -not -path 'cuda/emulation/*' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
