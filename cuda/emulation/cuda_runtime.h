// SPDX-License-Identifier: Apache-2.0
// A CPU stand-in for <cuda_runtime.h>: the subset of the CUDA runtime that cuda/ uses, so that the
// CUDA backend's own code (its kernels, launches, buffers and copies) runs and is tested on a machine
// without a GPU. Built only with HEMOTWIN_CUDA=EMULATE (a developer check, never a release build);
// translate.py turns `kernel<<<grid, block>>>(args)` into `hemotwin_emu::launch(...)(args)`.
//
// What it checks beyond running the code (each a clear error, where a GPU would corrupt or crash):
// - every cudaMemcpy/cudaMemset range lies inside one live cudaMalloc block, on the side its kind
//   says; cudaFree of an unknown pointer;
// - every pointer argument of a kernel is null or device memory (a host pointer passed to a kernel);
// - launch configurations (empty grid, more than 1024 threads per block), as cudaGetLastError;
// - __syncthreads reached by only some of a block's threads.
// Fresh device memory is filled with 0xFF bytes (NaN as float) so a read before the first write shows.
// It counts the calls that make the host wait for all GPU work queued before them (host_waits below):
// the fixed cost per step that a coupled run pays on a GPU, which no timing here can show.
// With HEMOTWIN_EMULATION_CHECK=1, memcheck.hpp also names data races on device memory, accesses past
// an allocation's ends and reads of memory nothing wrote, and counts each kernel's memory sectors.
// What it cannot show: timing, and nvcc's own code generation (FMA contraction).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// one block runs on one host thread at a time, so a thread-local static is that block's shared memory
#define __shared__ static thread_local
#define __launch_bounds__(...)

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
extern thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorNoDevice = 100,
  cudaErrorIllegalAddress = 700,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int major, minor, multiProcessorCount;
};
struct hemotwin_emu_event;
typedef hemotwin_emu_event* cudaEvent_t;
typedef void* cudaStream_t;
#define cudaEventDisableTiming 0x02

const char* cudaGetErrorString(cudaError_t err);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaMalloc(void** ptr, size_t bytes);
template <class T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocHost(void** ptr, size_t bytes);  // pinned (page-locked) host memory
template <class T>
cudaError_t cudaMallocHost(T** ptr, size_t bytes) {
  return cudaMallocHost(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* ptr, int value, size_t bytes);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaEventDestroy(cudaEvent_t event);
void __syncthreads();
// atomics run outside the memory checker's instrumentation (emulator.cpp), so they never count as races
int atomicExch(int* address, int value);

namespace hemotwin_emu {

// Calls so far that, on a GPU, block the host until every kernel and copy queued before them has run:
// cudaMemcpy to or from the host (pinned or not), cudaMemcpyAsync to or from pageable host memory
// (which may be synchronous), cudaDeviceSynchronize, cudaFree and cudaFreeHost. Not counted:
// cudaMemset and cudaMemcpyAsync with pinned host memory (queued like a kernel), and
// cudaEventSynchronize (it waits only for the work before that event).
long long host_waits();

// where a kernel was launched: its identity (for what the emulator learns about it) and configuration
struct LaunchSite {
  const void* key;
  const char* name;
  dim3 grid, block;
};

// Runs body once per thread of the grid; false (and cudaGetLastError set) for a bad configuration.
// A kernel's first launch runs each block's threads as fibers, so __syncthreads works; launches of a
// kernel that never synchronised run its blocks in parallel (OpenMP) and its threads in a loop.
bool run_grid(const LaunchSite& site, void (*body)(const void*), const void* closure);
// Whether [p, p + bytes) lies in one live device allocation.
bool is_device_range(const void* p, size_t bytes);
// Records a launch error found before running (cudaGetLastError returns it, with this detail).
void launch_error(const LaunchSite& site, const std::string& detail);

template <class T>
bool argument_ok(const T& value, std::string& bad) {
  if constexpr (std::is_pointer_v<T>) {
    if (value && !is_device_range(static_cast<const void*>(value), 1)) {
      bad = "a host (or freed) pointer";
      return false;
    }
  }
  return true;
}

template <class... P>
class Launcher {
 public:
  Launcher(void (*kernel)(P...), LaunchSite site) : kernel_(kernel), site_(site) {}

  template <class... A>
  void operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "kernel launched with the wrong number of arguments");
    // copied and converted to the parameter types once, as the CUDA runtime copies launch arguments
    const std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
    std::string bad;
    int index = 0, bad_index = -1;
    auto check_one = [&](const auto& v) {
      if (bad_index < 0 && !argument_ok(v, bad)) bad_index = index;
      ++index;
    };
    std::apply([&](const auto&... v) { (check_one(v), ...); }, params);
    if (bad_index >= 0) {
      launch_error(site_, "argument " + std::to_string(bad_index + 1) + " is " + bad);
      return;
    }
    struct Closure {
      void (*kernel)(P...);
      const std::tuple<std::decay_t<P>...>* params;
    } closure{kernel_, &params};
    run_grid(
        site_, [](const void* c) {
          const auto* cl = static_cast<const Closure*>(c);
          std::apply(cl->kernel, *cl->params);
        },
        &closure);
  }

 private:
  void (*kernel_)(P...);
  LaunchSite site_;
};

template <class... P>
Launcher<P...> launch(void (*kernel)(P...), const char* name, dim3 grid, dim3 block, size_t shared_bytes = 0,
                      cudaStream_t stream = nullptr) {
  (void)shared_bytes;
  (void)stream;
  return Launcher<P...>(kernel, LaunchSite{reinterpret_cast<const void*>(kernel), name, grid, block});
}

}  // namespace hemotwin_emu
