// SPDX-License-Identifier: Apache-2.0
// make_backend: picks the CPU or CUDA implementation at run time. cpp/ only declares the CUDA entry
// points; they are defined in cuda/ when the build found a CUDA compiler.
#include <stdexcept>

#include "hemotwin/backend.hpp"

namespace hemotwin {

std::unique_ptr<Backend> make_cpu_backend(SparseLattice lattice, PhysicsConfig cfg, int threads);
#ifdef HEMOTWIN_WITH_CUDA
std::unique_ptr<Backend> make_cuda_backend(SparseLattice lattice, PhysicsConfig cfg);
int cuda_device_count_impl();
std::string cuda_device_name_impl();
double cuda_copy_bandwidth_gbps_impl(size_t bytes, int repeats);
#endif

int cuda_device_count() {
#ifdef HEMOTWIN_WITH_CUDA
  return cuda_device_count_impl();
#else
  return 0;
#endif
}

std::string cuda_device_name() {
#ifdef HEMOTWIN_WITH_CUDA
  return cuda_device_count_impl() > 0 ? cuda_device_name_impl() : std::string();
#else
  return std::string();
#endif
}

double cuda_copy_bandwidth_gbps(size_t bytes, int repeats) {
#ifdef HEMOTWIN_WITH_CUDA
  if (cuda_device_count_impl() == 0) throw std::runtime_error("no usable CUDA GPU to measure");
  return cuda_copy_bandwidth_gbps_impl(bytes, repeats);
#else
  (void)bytes;
  (void)repeats;
  throw std::runtime_error("this hemotwin was built without CUDA");
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& device, SparseLattice lattice, PhysicsConfig cfg,
                                      int threads) {
  if (device == "cpu") return make_cpu_backend(std::move(lattice), cfg, threads);
  if (device == "cuda") {
#ifdef HEMOTWIN_WITH_CUDA
    if (cuda_device_count_impl() == 0)
      throw std::runtime_error("device 'cuda' requested but no usable CUDA GPU was found (driver or device "
                               "missing); use device='cpu' or 'auto'");
    return make_cuda_backend(std::move(lattice), cfg);
#else
    throw std::runtime_error("device 'cuda' requested but this hemotwin was built without CUDA: install the "
                             "CUDA toolkit (nvcc on PATH) and reinstall with `HEMOTWIN_CUDA=ON pip install .`");
#endif
  }
  throw std::invalid_argument("unknown device '" + device + "': expected 'cpu' or 'cuda'");
}

}  // namespace hemotwin
