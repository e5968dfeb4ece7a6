// SPDX-License-Identifier: Apache-2.0
// Probe for the CUDA emulation (tests/unit/test_cuda_emulation.py): each case prints one line.
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

constexpr int kBlock = 256;

__global__ void block_sums(const double* in, size_t n, double* out) {
  __shared__ double part[kBlock];
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  part[threadIdx.x] = i < n ? in[i] : 0.0;
  __syncthreads();
  for (int w = kBlock / 2; w > 0; w >>= 1) {
    if (int(threadIdx.x) < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = part[0];
}

template <class T>
__global__ void scale(T* x, size_t n, T a) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= a;
}

__global__ void divergent_barrier(int* x) {
  if (threadIdx.x < 10) return;  // these threads never reach the barrier the others wait at
  __syncthreads();
  x[threadIdx.x] = 1;
}

int main() {
  const size_t n = 1000;
  std::vector<double> host(n);
  for (size_t i = 0; i < n; ++i) host[i] = double(i + 1);
  double *d_in = nullptr, *d_out = nullptr;
  cudaMalloc(&d_in, n * sizeof(double));
  cudaMalloc(&d_out, 4 * sizeof(double));
  cudaMemcpy(d_in, host.data(), n * sizeof(double), cudaMemcpyHostToDevice);
  const unsigned blocks = unsigned((n + kBlock - 1) / kBlock);
  for (int launch = 0; launch < 2; ++launch) {  // the second launch uses what the first one learned
    block_sums<<<blocks, kBlock>>>(d_in, n, d_out);
    std::vector<double> sums(blocks);
    cudaMemcpy(sums.data(), d_out, blocks * sizeof(double), cudaMemcpyDeviceToHost);
    double total = 0;
    for (double s : sums) total += s;
    std::printf("block_sums_%d %.1f %s\n", launch, total, cudaGetErrorString(cudaGetLastError()));
  }
  for (int launch = 0; launch < 2; ++launch) scale<double><<<blocks, kBlock>>>(d_in, n, 2.0);
  cudaMemcpy(host.data(), d_in, n * sizeof(double), cudaMemcpyDeviceToHost);
  std::printf("scale %.1f %.1f\n", host[0], host[n - 1]);
  scale<double><<<blocks, kBlock>>>(host.data(), n, 2.0);  // a host pointer
  std::printf("host_pointer %s\n", cudaGetErrorString(cudaGetLastError()));
  scale<double><<<0, kBlock>>>(d_in, n, 2.0);
  std::printf("empty_grid %s\n", cudaGetErrorString(cudaGetLastError()));
  const cudaError_t e = cudaMemcpy(host.data(), d_in, (n + 1) * sizeof(double), cudaMemcpyDeviceToHost);
  std::printf("overrun %s\n", cudaGetErrorString(e));
  const cudaError_t e2 = cudaMemcpy(d_in, host.data(), 8, cudaMemcpyDeviceToHost);
  std::printf("wrong_kind %s\n", cudaGetErrorString(e2));
  int* d_flags = nullptr;
  cudaMalloc(&d_flags, kBlock * sizeof(int));
  divergent_barrier<<<1, kBlock>>>(d_flags);
  std::printf("divergent %s\n", cudaGetErrorString(cudaGetLastError()));
  float* fresh = nullptr;
  cudaMalloc(&fresh, sizeof(float));
  float v = 0;
  cudaMemcpy(&v, fresh, sizeof(float), cudaMemcpyDeviceToHost);
  std::printf("fresh_is_nan %d\n", v != v);
  cudaFree(d_in);
  std::printf("double_free %s\n", cudaGetErrorString(cudaFree(d_in)));
  return 0;
}
