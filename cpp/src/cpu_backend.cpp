// SPDX-License-Identifier: Apache-2.0
// CPU backend: OpenMP loops over the shared kernels/ cell updates. Every loop writes disjoint data
// and every sum runs in a fixed order, so results are bit-identical for any thread count.
#include <algorithm>
#include <cmath>
#include <limits>

#include "hemotwin/backend.hpp"
#include "hemotwin/kernels/aa_step.hpp"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace hemotwin {

namespace {

template <class S, class C>
class CpuBackend final : public Backend {
 public:
  CpuBackend(SparseLattice lattice, PhysicsConfig cfg, int threads)
      : Backend(std::move(lattice), cfg), threads_(threads > 0 ? threads : default_threads()) {
    n_ = lat_.n;
    f_raw_ = alloc_populations();
    link_flux_.assign(lat_.n_links(), C(0));
    params_.tau = C(cfg_.tau);
    params_.magic = C(cfg_.magic);
    params_.cs2_smag = C(cfg_.smagorinsky * cfg_.smagorinsky);
    params_.cy_nu0 = C(cfg_.cy_nu0);
    params_.cy_nu_inf = C(cfg_.cy_nu_inf);
    params_.cy_lambda = C(cfg_.cy_lambda);
    params_.cy_n = C(cfg_.cy_n);
    params_.cy_a = C(cfg_.cy_a);
    init_equilibrium();
  }
  ~CpuBackend() override { std::free(base_); }
  std::string name() const override { return "cpu"; }

  std::vector<double> port_mean_pressure() override {
    std::vector<double> out(size_t(lat_.n_ports), 0.0);
    const bool odd_next = (t_ & 1) != 0;
    for (int p = 0; p < lat_.n_ports; ++p) {
      double sum = 0;
      const uint32_t a0 = lat_.port_cell_begin[size_t(p)], a1 = lat_.port_cell_begin[size_t(p) + 1];
      for (uint32_t a = a0; a < a1; ++a) {
        const size_t c = lat_.port_cells[a];
        double rho = 0;
        for (int k = 0; k < 19; ++k) rho += double(f_[pre_slot(k, c, odd_next, lat_.addr.data(), n_)]);
        sum += (rho - 1.0) / 3.0;
      }
      out[size_t(p)] = a1 > a0 ? sum / double(a1 - a0) : 0.0;
    }
    return out;
  }

  void fields(double* rho, double* u, double* sigma) override {
    const bool odd_next = (t_ & 1) != 0;
    const bool les = cfg_.smagorinsky > 0, cy = cfg_.carreau_yasuda;
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (long long cc = 0; cc < (long long)n_; ++cc) {
      const size_t c = size_t(cc);
      C g[19], r, ux, uy, uz, s[6];
      for (int k = 0; k < 19; ++k) g[k] = C(f_[pre_slot(k, c, odd_next, lat_.addr.data(), n_)]);
      if (les && cy) macroscopic<C, true, true>(g, params_, r, ux, uy, uz, s);
      else if (les) macroscopic<C, true, false>(g, params_, r, ux, uy, uz, s);
      else if (cy) macroscopic<C, false, true>(g, params_, r, ux, uy, uz, s);
      else macroscopic<C, false, false>(g, params_, r, ux, uy, uz, s);
      if (rho) rho[c] = double(r);
      if (u) {
        u[3 * c] = double(ux);
        u[3 * c + 1] = double(uy);
        u[3 * c + 2] = double(uz);
      }
      if (sigma)
        for (int k = 0; k < 6; ++k) sigma[6 * c + size_t(k)] = double(s[k]);
    }
  }

  void get_populations(double* out) override {
    const bool odd_next = (t_ & 1) != 0;
    for (int k = 0; k < 19; ++k)
      for (size_t c = 0; c < n_; ++c)
        out[size_t(k) * n_ + c] = double(f_[pre_slot(k, c, odd_next, lat_.addr.data(), n_)]);
  }
  void set_populations(const double* in) override {
    const bool odd_next = (t_ & 1) != 0;
    for (int k = 0; k < 19; ++k)
      for (size_t c = 0; c < n_; ++c)
        f_[pre_slot(k, c, odd_next, lat_.addr.data(), n_)] = S(in[size_t(k) * n_ + c]);
  }

 protected:
  void do_step(bool odd, const std::vector<double>& scale, const std::vector<double>& rho) override {
    const bool les = cfg_.smagorinsky > 0, cy = cfg_.carreau_yasuda;
    bool ok;
    if (odd) ok = les ? (cy ? sweep<true, true, true>() : sweep<true, false, true>())
                      : (cy ? sweep<false, true, true>() : sweep<false, false, true>());
    else ok = les ? (cy ? sweep<true, true, false>() : sweep<true, false, false>())
                  : (cy ? sweep<false, true, false>() : sweep<false, false, false>());
    bad_ = bad_ || !ok;
    for (size_t p = 0; p < scale.size(); ++p) {
      port_scale_[p] = C(scale[p]);
      port_rho_[p] = C(rho[p]);
    }
    BoundaryView<C> bv{lat_.bcells.data(), lat_.link_begin.data(), lat_.link_dir.data(), lat_.link_kind.data(),
                       lat_.link_port.data(), lat_.link_q.data(), link_u_.data(), link_flux_.data(),
                       port_scale_.data(), port_rho_.data(), cfg_.bouzidi ? 1 : 0};
    const long long nb = (long long)lat_.bcells.size();
    S* f = f_;
    const uint32_t* addr = lat_.addr.data();
    const size_t n = n_;
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (long long b = 0; b < nb; ++b) correct_boundary_cell<S, C>(f, addr, n, odd, bv, size_t(b));
    accumulate_port_flux();
  }

  bool poll_bad() override {
    const bool b = bad_;
    bad_ = false;
    return b;
  }

  void upload_links() override {
    port_scale_.assign(size_t(lat_.n_ports), C(1));
    port_rho_.assign(size_t(lat_.n_ports), C(1));
  }

  void read_port_flux(std::vector<double>& last, std::vector<double>& sum) override {
    last = flux_last_;
    sum = flux_sum_;
    std::fill(flux_sum_.begin(), flux_sum_.end(), 0.0);
  }

  void accumulate_port_flux() {
    for (int p = 0; p < lat_.n_ports; ++p) {
      double s = 0;  // fixed order: deterministic whatever the thread count
      for (uint32_t a = lat_.port_link_begin[size_t(p)]; a < lat_.port_link_begin[size_t(p) + 1]; ++a)
        s += double(link_flux_[lat_.port_links[a]]);
      flux_last_[size_t(p)] = s;
      flux_sum_[size_t(p)] += s;
    }
  }

  void find_bad_cell(size_t& cell, double& rho_out, double& umag) override {
    const bool odd_next = (t_ & 1) != 0;
    cell = 0;
    rho_out = std::numeric_limits<double>::quiet_NaN();
    umag = rho_out;
    for (size_t c = 0; c < n_; ++c) {
      double g[19], r, ux, uy, uz;
      for (int k = 0; k < 19; ++k) g[k] = double(f_[pre_slot(k, c, odd_next, lat_.addr.data(), n_)]);
      moments<double>(g, r, ux, uy, uz);
      const double u2 = ux * ux + uy * uy + uz * uz;
      if (!(r > 0.2 && r < 5.0 && u2 < 0.5)) {
        cell = c;
        rho_out = r;
        umag = std::sqrt(u2);
        return;
      }
    }
  }

 private:
  static int default_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
  }

  S* alloc_populations() {
    // 19 arrays in one block with an odd cache-line stagger between them (see aligned_array).
    const size_t stride = ((n_ * sizeof(S) + 4095) / 4096) * 4096 + 64 * 7;
    void* raw = nullptr;
    if (posix_memalign(&raw, 4096, 19 * stride + 4096) != 0) throw std::bad_alloc();
    base_ = raw;
    // The address table indexes f[q * n + c], so the 19 arrays must be contiguous with stride n:
    // stagger the whole block instead of each array.
    return reinterpret_cast<S*>(static_cast<char*>(raw) + 64 * 5);
  }

  void init_equilibrium() {
    f_ = f_raw_;
    // first touch by the threads that will update the cells (static schedule, same as the sweeps)
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (long long cc = 0; cc < (long long)n_; ++cc)
      for (int k = 0; k < 19; ++k) f_[size_t(k) * n_ + size_t(cc)] = S(D3Q19::w(k));
    port_scale_.assign(size_t(lat_.n_ports), C(1));
    port_rho_.assign(size_t(lat_.n_ports), C(1));
    flux_last_.assign(size_t(lat_.n_ports), 0.0);
    flux_sum_.assign(size_t(lat_.n_ports), 0.0);
  }

  template <bool LES, bool CY, bool ODD>
  bool sweep() {
    S* HT_RESTRICT f = f_;
    const uint32_t* HT_RESTRICT addr = lat_.addr.data();
    const size_t n = n_;
    const CollisionParams<C> p = params_;
    int bad = 0;
    // simd: cells are independent, so the compiler may run one cell per vector lane
#pragma omp parallel for simd schedule(static) num_threads(threads_) reduction(| : bad)
    for (long long c = 0; c < (long long)n; ++c) {
      const bool cell_ok = aa_update<S, C, LES, CY, ODD>(f, addr, n, size_t(c), p);
      bad |= int(!cell_ok);
    }
    return bad == 0;
  }

  int threads_;
  size_t n_ = 0;
  void* base_ = nullptr;
  S* f_raw_ = nullptr;
  S* f_ = nullptr;
  CollisionParams<C> params_{};
  std::vector<C> link_flux_, port_scale_, port_rho_;
  std::vector<double> flux_last_, flux_sum_;
  bool bad_ = false;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(SparseLattice lattice, PhysicsConfig cfg, int threads) {
  if (cfg.precision == Precision::Float64)
    return std::make_unique<CpuBackend<double, double>>(std::move(lattice), cfg, threads);
  return std::make_unique<CpuBackend<float, float>>(std::move(lattice), cfg, threads);
}

}  // namespace hemotwin
