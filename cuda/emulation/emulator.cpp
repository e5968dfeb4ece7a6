// SPDX-License-Identifier: Apache-2.0
// The CPU emulation of the CUDA runtime declared in cuda_runtime.h (see there for what it checks).
#include "cuda_runtime.h"
#include "memcheck.hpp"

#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

struct hemotwin_emu_event {
  std::chrono::steady_clock::time_point t;
};

namespace {

// ---------------------------------------------------------------- errors (per host thread, as CUDA)
thread_local cudaError_t t_last_error = cudaSuccess;
thread_local cudaError_t t_detail_code = cudaSuccess;
thread_local std::string t_detail;

cudaError_t fail(cudaError_t code, const std::string& detail) {
  t_last_error = code;
  t_detail_code = code;
  t_detail = detail + " [hemotwin CUDA emulation]";
  return code;
}

// ---------------------------------------------------------------- device memory
std::mutex g_alloc_mutex;
std::map<uintptr_t, size_t> g_allocs;  // start -> bytes

// Whether [p, p + bytes) lies in one block of `blocks` (start -> bytes).
bool in_block(const std::map<uintptr_t, size_t>& blocks, const void* p, size_t bytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(g_alloc_mutex);
  auto it = blocks.upper_bound(a);
  if (it == blocks.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + std::max<size_t>(it->second, 1);
}

bool in_allocation(const void* p, size_t bytes) { return in_block(g_allocs, p, bytes); }

bool is_host(const void* p) { return !in_allocation(p, 1); }

// ---------------------------------------------------------------- pinned host memory, host waits
std::map<uintptr_t, size_t> g_pinned;  // start -> bytes, under g_alloc_mutex
std::atomic<long long> g_host_waits{0};

bool in_pinned(const void* p, size_t bytes) { return in_block(g_pinned, p, bytes); }

void host_waits_for_gpu() { g_host_waits.fetch_add(1, std::memory_order_relaxed); }

// ---------------------------------------------------------------- thread blocks
dim3 unflatten(size_t i, dim3 extent) {
  return dim3(unsigned(i % extent.x), unsigned(i / extent.x % extent.y), unsigned(i / (size_t(extent.x) * extent.y)));
}
size_t volume(dim3 d) { return size_t(d.x) * d.y * d.z; }

// A block's threads as fibers on one host thread: each runs until it reaches __syncthreads or ends,
// then the next; a round ends when every thread has, so a barrier holds like on the GPU.
struct Cooperative {
  static constexpr size_t kStack = 256 * 1024;
  ucontext_t scheduler;
  std::vector<ucontext_t> ctx;
  std::vector<std::unique_ptr<char[]>> stacks;
  std::vector<unsigned> syncs;
  std::vector<char> done;
  size_t current = 0;
  bool synced = false;
  void (*body)(const void*) = nullptr;
  const void* closure = nullptr;
};
thread_local Cooperative* t_coop = nullptr;

void fiber_main() {
  Cooperative& c = *t_coop;
  c.body(c.closure);
  c.done[c.current] = 1;  // returning resumes the scheduler (uc_link)
}

// One block; an empty string when it ran to the end, else what went wrong.
std::string run_block_cooperatively(Cooperative& c, size_t threads) {
  while (c.stacks.size() < threads) c.stacks.emplace_back(new char[Cooperative::kStack]);
  c.ctx.resize(threads);
  c.syncs.assign(threads, 0);
  c.done.assign(threads, 0);
  for (size_t t = 0; t < threads; ++t) {
    getcontext(&c.ctx[t]);
    c.ctx[t].uc_stack.ss_sp = c.stacks[t].get();
    c.ctx[t].uc_stack.ss_size = Cooperative::kStack;
    c.ctx[t].uc_link = &c.scheduler;
    makecontext(&c.ctx[t], fiber_main, 0);
  }
  for (unsigned round = 0;; ++round) {
    size_t ended_now = 0, waiting = 0;
    for (size_t t = 0; t < threads; ++t) {
      if (c.done[t]) continue;
      threadIdx = unflatten(t, blockDim);
      c.current = t;
      swapcontext(&c.scheduler, &c.ctx[t]);
      if (c.done[t]) ++ended_now;
      else ++waiting;
    }
    if (!waiting) return std::string();
    // every thread still running waits at barrier number round + 1; one that ended instead would
    // leave the GPU's barrier waiting for it
    for (size_t t = 0; t < threads; ++t)
      if (!c.done[t] && c.syncs[t] != round + 1)
        return "threads of one block passed different numbers of __syncthreads()";
    if (ended_now)
      return "__syncthreads() reached by " + std::to_string(waiting) + " of a block's threads while " +
             std::to_string(ended_now) + " others ended";
  }
}

std::mutex g_kernel_mutex;
std::unordered_map<const void*, bool> g_kernel_syncs;  // learned on a kernel's first launch

int emulated_device_count() {
  const char* env = std::getenv("HEMOTWIN_EMULATED_GPUS");
  return env ? std::atoi(env) : 1;
}

}  // namespace

// ---------------------------------------------------------------- runtime API
const char* cudaGetErrorString(cudaError_t err) {
  if (err == t_detail_code && !t_detail.empty()) return t_detail.c_str();
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
  }
  return "unknown error";
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = t_last_error;
  t_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return t_last_error; }

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (!ptr) return fail(cudaErrorInvalidValue, "cudaMalloc: null result pointer");
  // 256-byte aligned like cudaMalloc's (sector counts depend on it), between two guard zones where
  // the memory checker catches an index past either end
  using hemotwin_emu::memcheck::kAlign, hemotwin_emu::memcheck::kGuard;
  const size_t total = (bytes + 2 * kGuard + kAlign - 1) / kAlign * kAlign;
  char* base = static_cast<char*>(std::aligned_alloc(kAlign, total));
  if (!base) return fail(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(bytes) + " bytes");
  std::memset(base, 0xFF, total);  // NaN as float: a read before the first write shows in the results
  void* p = base + kGuard;
  hemotwin_emu::memcheck::on_alloc(p, bytes);
  {
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    g_allocs[reinterpret_cast<uintptr_t>(p)] = bytes;
  }
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  host_waits_for_gpu();  // cudaFree waits for the device
  {
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    auto it = g_allocs.find(reinterpret_cast<uintptr_t>(ptr));
    if (it == g_allocs.end())
      return fail(cudaErrorInvalidDevicePointer, "cudaFree of a pointer cudaMalloc did not return (or freed twice)");
    g_allocs.erase(it);
  }
  hemotwin_emu::memcheck::on_free(ptr);
  std::free(static_cast<char*>(ptr) - hemotwin_emu::memcheck::kGuard);
  return cudaSuccess;
}

namespace {
// A copy's checks and effect; cudaMemcpy and cudaMemcpyAsync differ only in whether the host waits.
cudaError_t checked_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* what) {
  const bool dst_dev = in_allocation(dst, bytes), src_dev = in_allocation(src, bytes);
  bool ok = true;
  switch (kind) {
    case cudaMemcpyHostToDevice: ok = dst_dev && is_host(src); break;
    case cudaMemcpyDeviceToHost: ok = src_dev && is_host(dst); break;
    case cudaMemcpyDeviceToDevice: ok = src_dev && dst_dev; break;
    case cudaMemcpyHostToHost: ok = is_host(src) && is_host(dst); break;
    case cudaMemcpyDefault: ok = (src_dev || is_host(src)) && (dst_dev || is_host(dst)); break;
  }
  if (!ok)
    return fail(cudaErrorInvalidValue, std::string(what) + " of " + std::to_string(bytes) + " bytes, kind " +
                                           std::to_string(int(kind)) + ": source on the " +
                                           (src_dev ? "device" : is_host(src) ? "host" : "device, past its end") +
                                           ", destination on the " +
                                           (dst_dev ? "device" : is_host(dst) ? "host" : "device, past its end"));
  std::memmove(dst, src, bytes);
  if (dst_dev && src_dev) hemotwin_emu::memcheck::on_device_copy(dst, src, bytes);
  else if (dst_dev) hemotwin_emu::memcheck::on_fill(dst, bytes);
  return cudaSuccess;
}
}  // namespace

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (!bytes) return cudaSuccess;
  if (kind != cudaMemcpyDeviceToDevice) host_waits_for_gpu();  // a copy to or from the host blocks
  return checked_copy(dst, src, bytes, kind, "cudaMemcpy");
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  if (!bytes) return cudaSuccess;
  // queued like a kernel only where the host side is pinned; from pageable memory it may block
  const void* host = kind == cudaMemcpyHostToDevice ? src : kind == cudaMemcpyDeviceToHost ? dst : nullptr;
  if (host && !in_pinned(host, bytes)) host_waits_for_gpu();
  return checked_copy(dst, src, bytes, kind, "cudaMemcpyAsync");
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  if (!ptr) return fail(cudaErrorInvalidValue, "cudaMallocHost: null result pointer");
  void* p = std::malloc(std::max<size_t>(bytes, 1));
  if (!p) return fail(cudaErrorMemoryAllocation, "cudaMallocHost of " + std::to_string(bytes) + " bytes");
  {
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    g_pinned[reinterpret_cast<uintptr_t>(p)] = bytes;
  }
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  if (!ptr) return cudaSuccess;
  host_waits_for_gpu();  // as cudaFree
  {
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    auto it = g_pinned.find(reinterpret_cast<uintptr_t>(ptr));
    if (it == g_pinned.end())
      return fail(cudaErrorInvalidValue, "cudaFreeHost of a pointer cudaMallocHost did not return (or freed twice)");
    g_pinned.erase(it);
  }
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
  if (!bytes) return cudaSuccess;
  if (!in_allocation(ptr, bytes))
    return fail(cudaErrorInvalidValue, "cudaMemset of " + std::to_string(bytes) + " bytes outside a device allocation");
  std::memset(ptr, value, bytes);
  hemotwin_emu::memcheck::on_fill(ptr, bytes);
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {  // every call here completes before it returns; counted as on a GPU
  host_waits_for_gpu();
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = emulated_device_count();
  return *count > 0 ? cudaSuccess : fail(cudaErrorNoDevice, "HEMOTWIN_EMULATED_GPUS=0");
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device < 0 || device >= emulated_device_count()) return fail(cudaErrorInvalidValue, "no such device");
  std::memset(prop, 0, sizeof(*prop));
  std::snprintf(prop->name, sizeof(prop->name), "hemotwin CUDA emulation on the CPU");
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new hemotwin_emu_event();
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) { return cudaEventCreate(event); }
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  event->t = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  *ms = std::chrono::duration<float, std::milli>(end->t - start->t).count();
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

int atomicExch(int* address, int value) {
  hemotwin_emu::memcheck::on_fill(address, sizeof(int));  // atomics are exempt from the race check
  return __atomic_exchange_n(address, value, __ATOMIC_RELAXED);
}

void __syncthreads() {
  Cooperative* c = t_coop;
  if (!c) {
    // only a kernel that did not synchronise on its first launch runs without fibers
    std::fprintf(stderr, "hemotwin CUDA emulation: a kernel called __syncthreads() on a later launch but not on "
                         "its first; cannot emulate that barrier\n");
    std::abort();
  }
  ++c->syncs[c->current];
  c->synced = true;
  swapcontext(&c->ctx[c->current], &c->scheduler);
}

namespace hemotwin_emu {

bool is_device_range(const void* p, size_t bytes) { return in_allocation(p, bytes); }

void launch_error(const LaunchSite& site, const std::string& detail) {
  fail(cudaErrorInvalidValue, std::string("launch of ") + site.name + ": " + detail);
}

bool run_grid(const LaunchSite& site, void (*body)(const void*), const void* closure) {
  const size_t blocks = volume(site.grid), threads = volume(site.block);
  if (!blocks || !threads || threads > 1024 || site.block.z > 64) {
    fail(cudaErrorInvalidConfiguration, std::string("launch of ") + site.name + " with " + std::to_string(blocks) +
                                            " blocks of " + std::to_string(threads) + " threads");
    return false;
  }
  bool known = false, syncs = true;
  {
    std::lock_guard<std::mutex> lock(g_kernel_mutex);
    auto it = g_kernel_syncs.find(site.key);
    if (it != g_kernel_syncs.end()) known = true, syncs = it->second;
  }
  // the memory checker needs one launch at a time, each block's threads in turn
  const bool checking = hemotwin_emu::memcheck::enabled();
  if (checking) hemotwin_emu::memcheck::begin_launch(site);
  if (!known || syncs || checking) {
    static thread_local Cooperative coop;
    coop.body = body;
    coop.closure = closure;
    coop.synced = false;
    t_coop = &coop;
    blockDim = site.block;
    gridDim = site.grid;
    std::string error;
    for (size_t b = 0; b < blocks && error.empty(); ++b) {
      blockIdx = unflatten(b, site.grid);
      if (checking) hemotwin_emu::memcheck::begin_block(b);
      error = run_block_cooperatively(coop, threads);
      if (checking) hemotwin_emu::memcheck::end_block();
    }
    t_coop = nullptr;
    if (checking) {
      const std::string memory_error = hemotwin_emu::memcheck::end_launch();
      if (error.empty() && !memory_error.empty()) error = memory_error;
    }
    if (!error.empty()) {
      fail(cudaErrorIllegalAddress, std::string("kernel ") + site.name + ": " + error);
      return false;
    }
    std::lock_guard<std::mutex> lock(g_kernel_mutex);
    g_kernel_syncs[site.key] = coop.synced;
    return true;
  }
  const dim3 grid = site.grid, block = site.block;
#pragma omp parallel for schedule(static)
  for (long long b = 0; b < (long long)blocks; ++b) {
    blockDim = block;
    gridDim = grid;
    blockIdx = unflatten(size_t(b), grid);
    for (size_t t = 0; t < threads; ++t) {
      threadIdx = unflatten(t, block);
      body(closure);
    }
  }
  return true;
}

}  // namespace hemotwin_emu

long long hemotwin_emu::host_waits() { return g_host_waits.load(std::memory_order_relaxed); }
