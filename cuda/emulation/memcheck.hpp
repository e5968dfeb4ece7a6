// SPDX-License-Identifier: Apache-2.0
// The CUDA emulation's memory checker: every load and store the emulated kernels make, seen through
// the compiler's access instrumentation (the .cu sources are compiled with -fsanitize=thread, whose
// __tsan_read/__tsan_write calls memcheck.cpp defines itself; no sanitizer runtime is linked).
//
// Off unless HEMOTWIN_EMULATION_CHECK=1 (then launches run one thread at a time). For each launch it
// names, as a launch error:
// - a data race on device memory: two threads of one launch touch the same bytes and at least one
//   writes (global memory only; atomics are exempt, __shared__ memory is not checked);
// - an access outside a device allocation but within its guard zone (an index past the end, or
//   before the start);
// - a read of device memory that nothing has written (no copy, memset or kernel store before it);
// - a misaligned access: a typed load or store at an address that is not a multiple of its size,
//   which a GPU traps and a CPU lets pass.
// It also counts, per kernel, the 32-byte sectors each warp-wide memory instruction touches: the
// coalescing of the real kernel code on a real lattice, without a GPU (benchmarks/RESULTS.md).
#pragma once

#include <cstddef>
#include <string>

namespace hemotwin_emu {
struct LaunchSite;
}

namespace hemotwin_emu::memcheck {

// guard zone on each side of every device allocation; allocations start 256-byte aligned like cudaMalloc's
constexpr size_t kGuard = 4096;
constexpr size_t kAlign = 256;

bool enabled();  // HEMOTWIN_EMULATION_CHECK set and not "0"

void on_alloc(const void* p, size_t bytes);
void on_free(const void* p);
// bytes written from outside a kernel (a copy to the device, a memset): initialised from then on
void on_fill(const void* p, size_t bytes);
// a device-to-device copy carries whether its source was initialised
void on_device_copy(const void* dst, const void* src, size_t bytes);

void begin_launch(const LaunchSite& site);
void begin_block(size_t block_index);
void end_block();
// "" when the launch was clean, else what went wrong first (and how many more)
std::string end_launch();

// {"kernels": {name: counts}, "errors": n}, as JSON; reset clears the counts
std::string report_json(bool reset);

}  // namespace hemotwin_emu::memcheck
