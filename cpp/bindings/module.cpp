// SPDX-License-Identifier: Apache-2.0
// pybind11 module hemotwin._core: numpy <-> lattice/backend, GIL release, exception mapping. No physics.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

#include "hemotwin/backend.hpp"
#include "hemotwin_build_config.hpp"
#include "hemotwin/lattice/d3q19.hpp"
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef HEMOTWIN_CUDA_EMULATED
#include "memcheck.hpp"  // cuda/emulation, on the include path of emulated builds only
namespace hemotwin_emu {
long long host_waits();  // cuda/emulation/cuda_runtime.h
}
#endif

namespace py = pybind11;
using namespace hemotwin;

namespace {

py::array_t<uint8_t> require_uint8_volume(const py::array& a) {
  if (a.ndim() != 3)
    throw py::value_error("cell_type must be a 3-D array (nx, ny, nz); got " + std::to_string(a.ndim()) +
                          " dimensions");
  if (!py::dtype::of<uint8_t>().is(a.dtype()))
    throw py::type_error("cell_type must have dtype uint8 (0 solid, 1 fluid, 2+p port p); got " +
                         std::string(py::str(a.dtype())));
  return py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(a);
}

struct LatticeHandle {
  std::shared_ptr<SparseLattice> lat;
};

py::object g_divergence_type;

}  // namespace

void bind_bench(py::module_& m);  // cpp/bindings/bind_bench.cpp

PYBIND11_MODULE(_core, m) {
  m.doc() = "hemotwin compiled core: sparse D3Q19 lattice-Boltzmann solver (CPU/OpenMP, CUDA)";

  g_divergence_type = py::reinterpret_borrow<py::object>(
      PyErr_NewExceptionWithDoc("hemotwin._core.DivergenceError",
                                "The simulation became non-physical; attributes step, i, j, k, rho, speed_lu.",
                                PyExc_RuntimeError, nullptr));
  m.attr("DivergenceError") = g_divergence_type;

  m.def("build_info", []() {
    py::dict d;
    d["version"] = HEMOTWIN_VERSION;
#ifdef HEMOTWIN_WITH_CUDA
    d["cuda_compiled"] = true;
#else
    d["cuda_compiled"] = false;
#endif
    // How the build was asked to treat CUDA (AUTO/ON/OFF): lets a test tell "skipped on purpose" from
    // "nvcc was there but AUTO missed it".
    d["cuda_option"] = HEMOTWIN_CUDA_OPTION;
    std::string archs = HEMOTWIN_CUDA_ARCHS;
    py::list al;
    size_t pos = 0;
    while (!archs.empty() && pos != std::string::npos) {
      const size_t next = archs.find(',', pos);
      al.append(archs.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
      pos = next == std::string::npos ? next : next + 1;
    }
    d["cuda_architectures"] = al;
    // whether nvcc may contract multiply-adds (HEMOTWIN_CUDA_FMA, default ON); off, the CUDA kernels
    // round like the portable CPU build
#if defined(HEMOTWIN_WITH_CUDA) && defined(HEMOTWIN_CUDA_FMAD)
    d["cuda_fma_contraction"] = true;
#else
    d["cuda_fma_contraction"] = false;
#endif
    // HEMOTWIN_CUDA=EMULATE: the CUDA backend's code runs on a CPU emulation of the runtime (a
    // developer check of that code without a GPU; cuda/emulation)
#ifdef HEMOTWIN_CUDA_EMULATED
    d["cuda_emulated"] = true;
#else
    d["cuda_emulated"] = false;
#endif
#ifdef _OPENMP
    d["openmp"] = true;
    d["max_threads"] = omp_get_max_threads();
#else
    d["openmp"] = false;
    d["max_threads"] = 1;
#endif
#if defined(__clang__)
    d["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    d["compiler"] = std::string("gcc ") + __VERSION__;
#else
    d["compiler"] = "unknown";
#endif
    return d;
  });
  bind_bench(m);
#ifdef HEMOTWIN_CUDA_EMULATED
  m.def("emulation_memcheck_report", &hemotwin_emu::memcheck::report_json, py::arg("reset") = false,
        "The CUDA emulation's memory checker: per-kernel access and sector counts and the error count, as "
        "JSON (cuda/emulation/memcheck.hpp); counts only under HEMOTWIN_EMULATION_CHECK=1");
  m.def("emulation_host_waits", &hemotwin_emu::host_waits,
        "Calls so far that would make the host wait for all queued GPU work on a real GPU (blocking copies, "
        "device synchronisation, cudaFree): the CUDA emulation's count (cuda/emulation/cuda_runtime.h)");
#endif
  m.def("cuda_device_count", &cuda_device_count);
  m.def("cuda_device_name", &cuda_device_name);
  m.def("cuda_copy_bandwidth_gbps", &cuda_copy_bandwidth_gbps, py::arg("bytes") = size_t(2) << 30,
        py::arg("repeats") = 20, py::call_guard<py::gil_scoped_release>(),
        "Device-to-device copy bandwidth (GB/s, bytes read + written), mean over `repeats` copies");
  m.def("d3q19_velocities", []() {
    py::array_t<int64_t> c({19, 3});
    auto r = c.mutable_unchecked<2>();
    for (int i = 0; i < 19; ++i) {
      r(i, 0) = D3Q19::cx(i);
      r(i, 1) = D3Q19::cy(i);
      r(i, 2) = D3Q19::cz(i);
    }
    return c;
  });

  py::class_<LatticeHandle>(m, "Lattice", "Sparse lattice of fluid cells built from a dense cell-type volume")
      .def(py::init([](const py::array& cell_type, const py::array& wall_links, const py::array& wall_q,
                       std::array<bool, 3> periodic, bool morton) {
             auto ct = require_uint8_volume(cell_type);
             auto links = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(wall_links);
             auto q = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(wall_q);
             if (!links || !q) throw py::type_error("wall_links must be integer (m, 4) and wall_q float (m,)");
             if (links.size() > 0 && (links.ndim() != 2 || links.shape(1) != 4))
               throw py::value_error("wall_links must have shape (m, 4): i, j, k, direction");
             const size_t m_links = links.size() ? size_t(links.shape(0)) : 0;
             if (size_t(q.size()) != m_links)
               throw py::value_error("wall_q has " + std::to_string(q.size()) + " values but wall_links has " +
                                     std::to_string(m_links) + " rows");
             std::vector<WallLinkInput> w(m_links);
             const int64_t* lp = links.data();
             const double* qp = q.data();
             for (size_t a = 0; a < m_links; ++a)
               w[a] = WallLinkInput{int32_t(lp[4 * a]), int32_t(lp[4 * a + 1]), int32_t(lp[4 * a + 2]),
                                    int32_t(lp[4 * a + 3]), qp[a]};
             bool per[3] = {periodic[0], periodic[1], periodic[2]};
             LatticeHandle h;
             {
               py::gil_scoped_release nogil;
               h.lat = std::make_shared<SparseLattice>(
                   build_sparse_lattice(ct.data(), ct.shape(0), ct.shape(1), ct.shape(2), w, per, morton));
             }
             return h;
           }),
           py::arg("cell_type"), py::arg("wall_links"), py::arg("wall_q"),
           py::arg("periodic") = std::array<bool, 3>{false, false, false}, py::arg("morton") = true)
      .def_property_readonly("n_cells", [](const LatticeHandle& h) { return h.lat->n; })
      .def_property_readonly("n_ports", [](const LatticeHandle& h) { return h.lat->n_ports; })
      .def_property_readonly("n_links", [](const LatticeHandle& h) { return h.lat->n_links(); })
      .def_property_readonly("n_boundary_cells", [](const LatticeHandle& h) { return h.lat->bcells.size(); })
      .def_property_readonly("dense_box", [](const LatticeHandle& h) { return h.lat->dense_box; })
      .def_property_readonly("shape", [](const LatticeHandle& h) {
        return py::make_tuple(h.lat->nx, h.lat->ny, h.lat->nz);
      })
      .def("bytes_per_cell", [](const LatticeHandle& h, int bytes) { return h.lat->bytes_per_cell(size_t(bytes)); })
      .def("cell_ijk", [](const LatticeHandle& h) {
        py::array_t<int32_t> out({py::ssize_t(h.lat->n), py::ssize_t(3)});
        std::memcpy(out.mutable_data(), h.lat->ijk.data(), h.lat->ijk.size() * sizeof(int32_t));
        return out;
      })
      .def("port_cells", [](const LatticeHandle& h, int p) {
        if (p < 0 || p >= h.lat->n_ports) throw py::index_error("no port " + std::to_string(p));
        const uint32_t a = h.lat->port_cell_begin[size_t(p)], b = h.lat->port_cell_begin[size_t(p) + 1];
        py::array_t<uint32_t> out(py::ssize_t(b - a));
        std::memcpy(out.mutable_data(), h.lat->port_cells.data() + a, (b - a) * sizeof(uint32_t));
        return out;
      }, "Indices (lattice order) of the fluid cells that touch port p")
      .def("port_cell_flux_vectors", [](const LatticeHandle& h, int p) {
        // Per port cell, sum over its port links of 6 w_i c_i: the mass a velocity port with cell
        // velocity u lets out per step is sum(vector . u) (velocity bounce-back, reference density 1).
        if (p < 0 || p >= h.lat->n_ports) throw py::index_error("no port " + std::to_string(p));
        const SparseLattice& L = *h.lat;
        const uint32_t c0 = L.port_cell_begin[size_t(p)], c1 = L.port_cell_begin[size_t(p) + 1];
        py::array_t<double> out({py::ssize_t(c1 - c0), py::ssize_t(3)});
        auto r = out.mutable_unchecked<2>();
        for (py::ssize_t a = 0; a < r.shape(0); ++a)
          for (int d = 0; d < 3; ++d) r(a, d) = 0.0;
        for (uint32_t a = L.port_link_begin[size_t(p)]; a < L.port_link_begin[size_t(p) + 1]; ++a) {
          const uint32_t l = L.port_links[a];
          const int i = L.link_dir[l];
          const double w6 = 6.0 * D3Q19::w(i);
          const py::ssize_t pc = py::ssize_t(L.link_port_cell[l]);
          r(pc, 0) += w6 * D3Q19::cx(i);
          r(pc, 1) += w6 * D3Q19::cy(i);
          r(pc, 2) += w6 * D3Q19::cz(i);
        }
        return out;
      })
      .def("port_link_count", [](const LatticeHandle& h, int p) {
        if (p < 0 || p >= h.lat->n_ports) throw py::index_error("no port " + std::to_string(p));
        return h.lat->port_link_begin[size_t(p) + 1] - h.lat->port_link_begin[size_t(p)];
      });

  py::class_<Backend>(m, "Solver", "A lattice-Boltzmann run on one backend (lattice units)")
      .def(py::init([](const LatticeHandle& h, const std::string& device, int threads, double tau, double magic,
                       double smagorinsky, bool bouzidi, const std::string& precision, py::object carreau,
                       int check_interval, bool regularized) {
             PhysicsConfig cfg;
             cfg.tau = tau;
             cfg.magic = magic;
             cfg.smagorinsky = smagorinsky;
             cfg.bouzidi = bouzidi;
             if (precision == "float32") cfg.precision = Precision::Float32;
             else if (precision == "float64") cfg.precision = Precision::Float64;
             else if (precision == "float16") cfg.precision = Precision::Float16;
             else if (precision == "bfloat16") cfg.precision = Precision::BFloat16;
             else
               throw py::value_error("precision must be 'float32', 'float64', 'float16' or 'bfloat16' (16-bit "
                                     "storage, float32 arithmetic), got '" + precision + "'");
             if (!carreau.is_none()) {
               py::dict d = carreau;
               cfg.carreau_yasuda = true;
               cfg.cy_nu0 = d["nu0"].cast<double>();
               cfg.cy_nu_inf = d["nu_inf"].cast<double>();
               cfg.cy_lambda = d["lambda"].cast<double>();
               cfg.cy_n = d["n"].cast<double>();
               cfg.cy_a = d["a"].cast<double>();
             }
             cfg.divergence_check_interval = check_interval;
             cfg.regularized = regularized;
             return make_backend(device, *h.lat, cfg, threads);
           }),
           py::arg("lattice"), py::arg("device") = "cpu", py::arg("threads") = 0, py::arg("tau") = 0.8,
           py::arg("magic") = 3.0 / 16.0, py::arg("smagorinsky") = 0.0, py::arg("bouzidi") = true,
           py::arg("precision") = "float32", py::arg("carreau") = py::none(), py::arg("check_interval") = 1,
           py::arg("regularized") = false)
      .def_property_readonly("device", &Backend::name)
      .def_property_readonly("sweep_bytes_per_update", &Backend::sweep_bytes_per_update,
                             "bytes a step moves per fluid cell (populations and the sweep's index tables)")
      .def_property_readonly("bytes_held", &Backend::bytes_held,
                             "bytes held for the run: populations, index tables, lattice and boundary links")
      .def_property_readonly("time_step", &Backend::time_step)
      .def_property_readonly("link_uploads", &Backend::link_uploads,
                             "times step() re-sent link kinds and inlet velocities to the backend")
      .def_property_readonly("port_velocity_uploads", &Backend::port_velocity_uploads,
                             "times step() re-sent one port's inlet velocities alone")
      .def("set_time_step", &Backend::set_time_step)
      .def("step", [](Backend& b, int64_t n) {
        try {
          py::gil_scoped_release nogil;
          b.step(n);
        } catch (const DivergenceError& e) {
          py::object exc = g_divergence_type(e.what());
          exc.attr("step") = e.step;
          exc.attr("i") = e.i;
          exc.attr("j") = e.j;
          exc.attr("k") = e.k;
          exc.attr("rho") = e.rho;
          exc.attr("speed_lu") = e.umag;
          PyErr_SetObject(g_divergence_type.ptr(), exc.ptr());
          throw py::error_already_set();
        }
      }, py::arg("n"))
      .def("set_port_kind", [](Backend& b, int p, const std::string& kind) {
        if (kind == "velocity") b.set_port_kind(p, PORT_VELOCITY);
        else if (kind == "pressure") b.set_port_kind(p, PORT_PRESSURE);
        else throw py::value_error("port kind must be 'velocity' or 'pressure', got '" + kind + "'");
      })
      .def("set_port_pressure", &Backend::set_port_pressure, py::arg("port"), py::arg("p_lu"))
      .def("set_port_velocity", [](Backend& b, int p, py::array_t<float, py::array::c_style | py::array::forcecast> u) {
        if (u.ndim() != 2 || u.shape(1) != 3) throw py::value_error("port velocities must have shape (m, 3)");
        b.set_port_velocity(p, u.data(), size_t(u.shape(0)));
      })
      .def("set_port_waveform", &Backend::set_port_waveform, py::arg("port"), py::arg("t_steps"),
           py::arg("values"), py::arg("period_steps"))
      .def("port_factor", &Backend::port_factor)
      .def("port_flux", &Backend::port_flux, "mass leaving the fluid through each port in the last step (lu)")
      .def("port_flux_mean", &Backend::port_flux_mean, "the same, averaged over the last step() call")
      .def("port_mean_pressure", &Backend::port_mean_pressure)
      .def("fields", [](Backend& b) {
        const py::ssize_t n = py::ssize_t(b.lattice().n);
        py::array_t<double> rho(n), u({n, py::ssize_t(3)}), sigma({n, py::ssize_t(6)});
        double *pr = rho.mutable_data(), *pu = u.mutable_data(), *ps = sigma.mutable_data();
        {
          py::gil_scoped_release nogil;
          b.fields(pr, pu, ps);
        }
        py::dict d;
        d["rho"] = rho;
        d["u"] = u;
        d["sigma"] = sigma;
        return d;
      }, "rho, u (n, 3) and viscous stress (n, 6: xx yy zz xy xz yz) in lattice units")
      .def("get_populations", [](Backend& b) {
        py::array_t<double> f({py::ssize_t(19), py::ssize_t(b.lattice().n)});
        b.get_populations(f.mutable_data());
        return f;
      })
      .def("set_populations", [](Backend& b, py::array_t<double, py::array::c_style | py::array::forcecast> f) {
        if (f.ndim() != 2 || f.shape(0) != 19 || size_t(f.shape(1)) != b.lattice().n)
          throw py::value_error("populations must have shape (19, n_cells)");
        b.set_populations(f.data());
      });
}
