// SPDX-License-Identifier: Apache-2.0
// Bindings used by `hemotwin bench`: the STREAM triad (memory bandwidth for the roofline).
#include <pybind11/pybind11.h>

#include "hemotwin/core/cpu_stream.hpp"

namespace py = pybind11;

void bind_bench(py::module_& m) {
  m.def(
      "stream_triad_gbps",
      [](size_t n_bytes, int threads, int repeats) {
        py::gil_scoped_release nogil;
        return hemotwin::stream_triad_gbps(n_bytes, threads, repeats);
      },
      py::arg("n_bytes") = size_t(3) << 29, py::arg("threads") = 0, py::arg("repeats") = 10,
      "Best-of-`repeats` STREAM triad bandwidth in GB/s (24 B per element, write-allocate not counted) "
      "over three double arrays of `n_bytes` together; threads <= 0 uses all OpenMP threads.");
}
