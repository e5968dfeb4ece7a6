// SPDX-License-Identifier: Apache-2.0
// Probe for the CUDA emulation's memory checker (tests/unit/test_cuda_emulation.py), run with
// HEMOTWIN_EMULATION_CHECK=1: each case prints its name and the launch's error (or "no error"); the
// sector counts of the first two cases end the output as JSON.
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

#include "memcheck.hpp"

constexpr int kBlock = 256;

__global__ void copy(float* out, const float* in, size_t n) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = in[i];
}

// neighbouring threads 32 floats apart: every lane of a warp in its own sector
__global__ void gather_strided(float* out, const float* in, size_t n) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = in[(i * 32) % n + i * 32 / n];
}

__global__ void all_write_one(int* x) { x[0] = int(threadIdx.x); }

__global__ void shift_left(float* x, size_t n) {  // reads what the next thread writes: a race
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i + 1 < n) x[i] = x[i + 1];
}

__global__ void one_past_the_end(float* out, const float* in, size_t n) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = in[i + 1];
}

__global__ void flag_atomically(int* flag) { atomicExch(flag, 1); }

// floats read 2 bytes into a buffer (a cast of a byte offset that is not a multiple of 4): a GPU
// stops with "misaligned address"
__global__ void read_misaligned(float* out, const float* in, size_t n) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const float* shifted = reinterpret_cast<const float*>(reinterpret_cast<const char*>(in) + 2);
  if (i + 1 < n) out[i] = shifted[i];
}

void report(const char* name) { std::printf("%s %s\n", name, cudaGetErrorString(cudaGetLastError())); }

int main() {
  const size_t n = 1024;
  std::vector<float> host(n, 1.0f);
  float *in = nullptr, *out = nullptr, *fresh = nullptr;
  int *flag = nullptr, *word = nullptr;
  cudaMalloc(&in, n * sizeof(float));
  cudaMalloc(&out, n * sizeof(float));
  cudaMalloc(&fresh, n * sizeof(float));
  cudaMalloc(&flag, sizeof(int));
  cudaMalloc(&word, sizeof(int));
  cudaMemcpy(in, host.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  const unsigned blocks = unsigned(n / kBlock);
  hemotwin_emu::memcheck::report_json(true);
  copy<<<blocks, kBlock>>>(out, in, n);
  report("coalesced");
  gather_strided<<<blocks, kBlock>>>(out, in, n);
  report("strided");
  const std::string counts = hemotwin_emu::memcheck::report_json(true);
  all_write_one<<<1, 64>>>(word);
  report("write_write");
  shift_left<<<blocks, kBlock>>>(out, n);
  report("read_write");
  one_past_the_end<<<blocks, kBlock>>>(out, in, n);
  report("past_the_end");
  copy<<<blocks, kBlock>>>(out, fresh, n);
  report("uninitialised");
  cudaMemset(flag, 0, sizeof(int));
  flag_atomically<<<blocks, kBlock>>>(flag);
  report("atomic");
  read_misaligned<<<blocks, kBlock>>>(out, in, n);
  report("misaligned");
  std::printf("counts %s\n", counts.c_str());
  return 0;
}
