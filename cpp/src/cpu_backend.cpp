// SPDX-License-Identifier: Apache-2.0
// CPU backend: OpenMP loops over the shared kernels/ cell updates, the bulk sweep in SIMD blocks of
// cells (core/cpu_aa_block.hpp). Every loop writes disjoint data and every sum runs in a fixed order,
// so results are bit-identical for any thread count.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <stdexcept>
#include <type_traits>

#include "hemotwin/backend.hpp"
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include "hemotwin/core/cpu_aa_block.hpp"
#include "hemotwin/core/cpu_walls.hpp"
#include "hemotwin/kernels/aa_step.hpp"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace hemotwin {

namespace {

template <class S, class C>
class CpuBackend final : public Backend {
  typedef Codec<S, C> K;  // storage <-> compute (identity, or a shifted 16-bit format)
  static constexpr int W = cpu::Simd<C>::W;

 public:
  CpuBackend(SparseLattice lattice, PhysicsConfig cfg, int threads)
      : Backend(std::move(lattice), cfg), threads_(threads > 0 ? threads : default_threads()) {
    n_ = lat_.n;
    alloc_populations();
    plan_chunks();
    split_boundary_cells();
    link_flux_.assign(lat_.n_links(), C(0));
    params_ = collision_params<C>(cfg_);
    init_equilibrium();
  }
  ~CpuBackend() override {
    std::free(base_);
    std::free(addr_);
  }
  std::string name() const override { return "cpu"; }

  double sweep_bytes_per_update() const override {
    // odd steps read the block run table (and a gather list) instead of the address table
    const double runs = double(odd_runs_.n_runs * sizeof(cpu::OddRun) + odd_runs_.gather_idx.size() * 4);
    return 2.0 * 19.0 * double(sizeof(S)) + (n_ ? 0.5 * runs / double(n_) : 0.0);
  }

  size_t bytes_held() const override {
    // the lattice's own count (populations, addresses, coordinates, links) at the padded stride,
    // plus what this backend adds: the odd-step run table, the wall table, the link fluxes and the
    // port pressure scratch
    size_t b = lat_.bytes_per_cell(sizeof(S)) * n_ + (N_ - n_) * (19 * sizeof(S) + 18 * sizeof(uint32_t));
    b += odd_runs_.n_runs * sizeof(cpu::OddRun) + odd_runs_.gather_idx.size() * 4 + odd_runs_.begin.size() * 4;
    b += walls_.fix.size() * (3 * 4 + 2 * sizeof(C)) + walls_.cells.size() * 14 + walls_.block_begin.size() * 4;
    return b + lat_.n_links() * sizeof(C) + lat_.port_cells.size() * sizeof(double);  // + port_cell_p_
  }

  std::vector<double> port_mean_pressure() override {
    std::vector<double> out(size_t(lat_.n_ports), 0.0);
    const bool odd_next = (t_ & 1) != 0;
    // Each port cell reads 19 population rows (a cache miss each where the port cuts across the cell
    // order), so the cells are spread over the threads; the sums then run in port-cell order, and
    // the result is the same for any thread count.
    const long long m = (long long)lat_.port_cells.size();
    port_cell_p_.resize(size_t(m));
#pragma omp parallel for schedule(static) num_threads(threads_) if (m >= 2048)
    for (long long a = 0; a < m; ++a)
      port_cell_p_[size_t(a)] = cell_pressure_lu<S, C>(f_, lat_.port_cells[size_t(a)], odd_next, addr_, N_);
    for (int p = 0; p < lat_.n_ports; ++p) {
      double sum = 0;
      const uint32_t a0 = lat_.port_cell_begin[size_t(p)], a1 = lat_.port_cell_begin[size_t(p) + 1];
      for (uint32_t a = a0; a < a1; ++a) sum += port_cell_p_[a];
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
      for (int k = 0; k < 19; ++k) g[k] = K::decode(f_[pre_slot(k, c, odd_next, addr_, N_)], k);
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
        out[size_t(k) * n_ + c] = double(K::decode(f_[pre_slot(k, c, odd_next, addr_, N_)], k));
  }
  void set_populations(const double* in) override {
    const bool odd_next = (t_ & 1) != 0;
    for (int k = 0; k < 19; ++k)
      for (size_t c = 0; c < n_; ++c)
        f_[pre_slot(k, c, odd_next, addr_, N_)] = K::encode(C(in[size_t(k) * n_ + c]), k);
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
    const long long nb = (long long)port_bcells_.size();
    const uint32_t* active = port_bcells_.data();
    S* f = f_;
    const uint32_t* addr = addr_;
    const size_t n = N_;
    if constexpr (K::SHIFTED) {
      const DecodedPtr<S> fd{f, n};
#pragma omp parallel for schedule(static) num_threads(threads_)
      for (long long b = 0; b < nb; ++b)
        correct_boundary_cell<C, C, DecodedPtr<S>>(fd, addr, n, odd, bv, size_t(active[b]));
    } else {
#pragma omp parallel for schedule(static) num_threads(threads_)
      for (long long b = 0; b < nb; ++b) correct_boundary_cell<S, C>(f, addr, n, odd, bv, size_t(active[b]));
    }
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
      for (int k = 0; k < 19; ++k) g[k] = double(K::decode(f_[pre_slot(k, c, odd_next, addr_, N_)], k));
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

  // Stride of the 19 population arrays and of the 18 address rows: n rounded up to a page plus three
  // cache lines, so the arrays start 192 B apart modulo 4 KiB (19 x 192 < 4096: no two share L1
  // sets) and on whole SIMD blocks. Arrays all on the same page offset ran ~10x slower (issue 5).
  static size_t padded_stride(size_t n) {
    const size_t bytes = ((n * sizeof(S) + 4095) / 4096) * 4096 + 64 * 3;
    return bytes / sizeof(S);
  }

  // 2 MiB-aligned memory the kernel may back with transparent huge pages: the sweep streams 19
  // population arrays (and the address rows) at once, and with 4 KiB pages their TLB misses cost
  // ~1/3 of the dense step on this host, whose THP mode is "madvise" (numpy-based peers such as
  // lbmpy get huge pages because numpy asks for them). The arrays inside stay staggered by N's padding.
  static void* alloc_huge(size_t bytes) {
    const size_t huge = size_t(2) << 20;
    bytes = (bytes + huge - 1) / huge * huge;
    void* raw = nullptr;
    if (posix_memalign(&raw, huge, bytes) != 0) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    madvise(raw, bytes, MADV_HUGEPAGE);  // advice only: a refusal leaves ordinary pages
#endif
    return raw;
  }

  void alloc_populations() {
    N_ = padded_stride(n_);
    if (19 * N_ >= size_t(std::numeric_limits<uint32_t>::max()))
      throw std::invalid_argument("too many fluid cells for 32-bit addressing (" + std::to_string(n_) + ")");
    big_ = 19 * N_ >= (size_t(1) << 31);  // AVX-512 gathers take signed 32-bit indices
    base_ = alloc_huge(19 * N_ * sizeof(S) + 4096);
    f_raw_ = static_cast<S*>(base_);
    addr_ = static_cast<uint32_t*>(alloc_huge(18 * N_ * sizeof(uint32_t) + 4096));
    // The lattice's table, re-based on the padded stride and first touched by the threads that
    // will read it (same static block schedule as the sweeps). The canonical copy is then dropped.
    const size_t n = n_, N = N_;
    const uint32_t* src = lat_.addr.data();
    uint32_t* dst = addr_;
    const long long nblocks = (long long)((N + W - 1) / W);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (long long b = 0; b < nblocks; ++b)
      for (size_t r = 0; r < 18; ++r)
        for (size_t c = size_t(b) * W; c < std::min(N, size_t(b + 1) * W); ++c)
          dst[r * N + c] = padded_address(src, n, N, r, c);
    std::vector<uint32_t>().swap(lat_.addr);
    if (!lat_.dense_box) odd_runs_.build<W>(addr_, N_, n_ / W, threads_);
  }

  // Cells with a port link take the general boundary pass (correct_boundary_cell); the wall links of
  // all other cells go through the precomputed wall table (core/cpu_walls.hpp), where only the
  // interpolated ones remain: the sweep's half-way bounce-back is already right for the rest.
  void split_boundary_cells() {
    const std::vector<uint8_t> has_port = lat_.boundary_cells_with_port_link();
    port_bcells_.clear();
    for (size_t b = 0; b < has_port.size(); ++b)
      if (has_port[b]) port_bcells_.push_back(uint32_t(b));
    if (cfg_.bouzidi) walls_.build(lat_, addr_, N_, W, [&](size_t b) { return !has_port[b]; });
    walls_.plan(chunk_);
  }

  // The sweep's contiguous block range per thread (as OpenMP's static schedule splits them), fixed
  // for the backend's life: the fused wall correction depends on which cells share a range.
  void plan_chunks() {
    const size_t nblocks = (n_ + W - 1) / W, t = size_t(threads_);
    const size_t q = nblocks / t, rem = nblocks % t;
    chunk_.resize(t + 1);
    for (size_t r = 0; r <= t; ++r) chunk_[r] = r * q + std::min(r, rem);
  }

  void init_equilibrium() {
    f_ = f_raw_;
    // first touch by the threads that will update the cells (static block schedule, as the sweeps)
    const size_t N = N_;
    const long long nblocks = (long long)((N + W - 1) / W);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (long long b = 0; b < nblocks; ++b)
      for (int k = 0; k < 19; ++k)
        for (size_t c = size_t(b) * W; c < std::min(N, size_t(b + 1) * W); ++c)
          f_[size_t(k) * N + c] = K::encode(C(D3Q19::w(k)), k);
    port_scale_.assign(size_t(lat_.n_ports), C(1));
    port_rho_.assign(size_t(lat_.n_ports), C(1));
    flux_last_.assign(size_t(lat_.n_ports), 0.0);
    flux_sum_.assign(size_t(lat_.n_ports), 0.0);
  }

  template <bool LES, bool CY, bool ODD>
  bool sweep() {
    return big_ ? sweep_blocks<LES, CY, ODD, true>() : sweep_blocks<LES, CY, ODD, false>();
  }

  // One AA step over all cells, W cells (one SIMD register) per block. Even steps touch only the
  // cell's own slots (contiguous vectors); odd steps go through the neighbours: on the dense
  // periodic box by index arithmetic along each k row, elsewhere through the address table, with a
  // plain vector load/store whenever the W addresses are consecutive and a gather/scatter otherwise.
  template <bool LES, bool CY, bool ODD, bool BIG>
  bool sweep_blocks() {
    typedef cpu::Mem<S, C, BIG> M;
    typedef typename cpu::Simd<C>::V V;
    S* HT_RESTRICT f = f_;
    const uint32_t* HT_RESTRICT addr = addr_;
    const size_t n = n_, N = N_;
    const CollisionParams<C> p = params_;
    const TrtRates<C> rates(p);
    const CollisionParams<cpu::Pack<C>> pack_params = cpu::broadcast(p);
    const bool dense = lat_.dense_box;
    // Dense rows start on whole vectors (stride N is a multiple of W): k +- 1 neighbours can be
    // assembled from aligned vectors (cpu::MemSame::load_shifted) for same-type storage.
    const bool aligned_rows = std::is_same<S, C>::value && lat_.nz % W == 0 && N_ % size_t(W) == 0;
    const uint32_t* gidx = odd_runs_.gather_idx.data();
    const long long nx = lat_.nx, ny = lat_.ny, nz = lat_.nz;
    const long long nblocks = (long long)((n + W - 1) / W);
    int bad = 0;
#pragma omp parallel num_threads(threads_) reduction(| : bad)
    {
      decltype(collide_trt_pairs<V, C>(nullptr, rates)) lane_ok;
      for (int j = 0; j < W; ++j) lane_ok[j] = -1;
      long long rowbase[9] = {};  // dense box: first cell of the 9 neighbour rows of cached_row
      long long cached_row = -1;
#ifdef _OPENMP
      const size_t tid = size_t(omp_get_thread_num()), nt = size_t(omp_get_num_threads());
#else
      const size_t tid = 0, nt = 1;
#endif
      // Each planned range in order by one thread (a thread takes several if fewer are granted).
      for (size_t rng = tid; rng + 1 < chunk_.size(); rng += nt)
      for (long long b = (long long)chunk_[rng]; b < (long long)chunk_[rng + 1]; ++b) {
        const size_t c0 = size_t(b) * W;
        const int m = int(std::min<size_t>(W, n - c0));
        V g[19];
        // Dense box, block inside one k row: neighbour rows by arithmetic (periodic in i and j),
        // recomputed only when the block enters a new row (the divisions cost as much as a collision).
        long long k0 = 0;
        bool row_block = false;
        if (ODD && dense && m == W) {
          const long long row = (long long)c0 / nz;
          k0 = (long long)c0 - row * nz;
          row_block = k0 + W <= nz;
          if (row_block && row != cached_row) {
            cached_row = row;
            const long long ci = row / ny, cj = row - ci * ny;
            for (int dx = -1; dx <= 1; ++dx)
              for (int dy = -1; dy <= 1; ++dy) {
                long long a = ci + dx, bb = cj + dy;
                a += a < 0 ? nx : (a >= nx ? -nx : 0);
                bb += bb < 0 ? ny : (bb >= ny ? -ny : 0);
                rowbase[(dx + 1) * 3 + (dy + 1)] = (a * ny + bb) * nz;
              }
          }
        }
        // Dense box: where direction i's neighbour row starts in the population array (f_i's row
        // of the cell x + c_i, k = 0).
        auto row_offset = [&](int i) {
          return rowbase[(D3Q19::cx(i) + 1) * 3 + (D3Q19::cy(i) + 1)] + (long long)i * (long long)N;
        };
        // Where direction i's slots of this block's cells lie in the odd step: f_opp(i) is read
        // there and f_i* written back (kernels/aa_step.hpp).
        auto odd_lanes = [&](int i) {
          cpu::Lanes<S, C, BIG> L;
          if (row_block) {
            const long long rb = row_offset(i);
            const int dz = D3Q19::cz(i);
            L.runs = 1;
            L.b1 = rb + k0 + dz;
            int wrap = -1;  // the lane whose neighbour is across the periodic end of the row
            if (dz < 0 && k0 == 0) wrap = 0;
            if (dz > 0 && k0 + W == nz) wrap = W - 1;
            if (wrap >= 0) {
              L.runs = 2;
              L.m2 = 1u << wrap;
              L.b2 = rb + (dz < 0 ? nz - 1 : 0) - wrap;
            }
            return L;
          }
          L.from_index(M::load_idx(addr + size_t(i - 1) * N + c0));
          return L;
        };
        // Dense row of whole aligned vectors (same-type storage): direction i's slots are this
        // block's vector of a neighbour row, shifted by one lane where c_iz != 0, assembled from
        // that vector and its neighbour (across the periodic wrap at the row's ends).
        const bool aligned_block = row_block && aligned_rows;
        const long long k_next = k0 + W == nz ? 0 : k0 + W, k_prev = (k0 == 0 ? nz : k0) - W;
        auto row_of = [&](int i) { return f + row_offset(i); };
        const bool use_runs = ODD && !dense && m == W;
        const cpu::OddRun* runs = use_runs ? odd_runs_.runs + odd_runs_.begin[size_t(b)] : nullptr;
        if (use_runs) odd_runs_.prefetch<W>(f, size_t(b) + kOddPrefetchBlocks);
#ifdef HT_DPF
        if (aligned_block && k0 + (HT_DPF + 1) * W <= nz)
          for (int i = 1; i < 19; ++i) __builtin_prefetch(row_of(i) + k0 + HT_DPF * W, 1, 3);
#endif
        if (m == W) {
          if (!ODD) {
HT_UNROLL
            for (int i = 0; i < 19; ++i) g[i] = M::load(f + size_t(i) * N + c0);
          } else if (use_runs) {
            g[0] = M::load(f + c0);
            const cpu::OddRun* r = runs;
HT_UNROLL
            for (int i = 1; i < 19; ++i) cpu::odd_runs<S, C, BIG, false>(f, r, gidx, i, g[D3Q19::opp(i)]);
          } else if (aligned_block) {
            if constexpr (std::is_same<S, C>::value) {
              g[0] = M::load(f + c0);
HT_UNROLL
              for (int i = 1; i < 19; ++i) {
                const S* row = row_of(i);
                const int dz = D3Q19::cz(i);
                g[D3Q19::opp(i)] = dz == 0 ? M::load(row + k0)
                                           : M::load_shifted(row + k0, row + (dz > 0 ? k_next : k_prev), dz);
              }
            }
          } else {
            g[0] = M::load(f + c0);
HT_UNROLL
            for (int i = 1; i < 19; ++i) {
              g[D3Q19::opp(i)] = odd_lanes(i).load(f);
            }
          }
        } else {  // the last, partial block: idle lanes hold the rest state (always "physical")
HT_UNROLL
          for (int i = 0; i < 19; ++i) {
            for (int j = 0; j < W; ++j) g[i][j] = C(D3Q19::w(i));
            for (int j = 0; j < m; ++j) g[i][j] = K::decode(f[pre_slot(i, c0 + size_t(j), ODD, addr, N)], i);
          }
        }
        if constexpr (K::SHIFTED) {  // raw stored numbers to populations: f = raw / SCALE + w
          if (m == W) {
HT_UNROLL
            for (int i = 0; i < 19; ++i) g[i] = g[i] * C(K::INV_SCALE) + C(D3Q19::w(i));
          }
        }
        if (!LES && !CY && !p.regularized) {
          lane_ok &= collide_trt_pairs<V, C>(g, rates);
        } else {
          cpu::Pack<C> cell[19];
HT_UNROLL
          for (int i = 0; i < 19; ++i) cell[i].v = g[i];
          lane_ok &= collide<cpu::Pack<C>, LES, CY>(cell, pack_params).m;
HT_UNROLL
          for (int i = 0; i < 19; ++i) g[i] = cell[i].v;
        }
        if constexpr (K::SHIFTED) {
          if (m == W) {
HT_UNROLL
            for (int i = 0; i < 19; ++i) g[i] = (g[i] - C(D3Q19::w(i))) * C(K::SCALE);
          }
        }
        if (m == W) {
          if (!ODD) {
HT_UNROLL
            for (int i = 0; i < 19; ++i) M::store(f + size_t(D3Q19::opp(i)) * N + c0, g[i]);
          } else if (use_runs) {
            M::store(f + c0, g[0]);
            const cpu::OddRun* r = runs;
HT_UNROLL
            for (int i = 1; i < 19; ++i) cpu::odd_runs<S, C, BIG, true>(f, r, gidx, i, g[i]);
          } else if (aligned_block) {
            if constexpr (std::is_same<S, C>::value) {
              M::store(f + c0, g[0]);
HT_UNROLL
              for (int i = 1; i < 19; ++i) {
                S* row = row_of(i);
                const int dz = D3Q19::cz(i);
                if (dz == 0) M::store(row + k0, g[i]);
                else M::store_shifted(row + k0, row + (dz > 0 ? k_next : k_prev), dz, g[i]);
              }
            }
          } else {
            M::store(f + c0, g[0]);
HT_UNROLL
            for (int i = 1; i < 19; ++i) {
              odd_lanes(i).store(f, g[i]);
            }
          }
        } else {
HT_UNROLL
          for (int i = 0; i < 19; ++i)
            for (int j = 0; j < m; ++j) f[post_slot(i, c0 + size_t(j), ODD, addr, N)] = K::encode(g[i][j], i);
        }
        walls_.after_block(f, ODD, size_t(b));
      }
      for (int j = 0; j < W; ++j) bad |= int(lane_ok[j] == 0);
    }
    walls_.after_sweep(f_, ODD, threads_);
    return bad == 0;
  }

  // How far ahead (in blocks of W cells) the sparse odd step prefetches its neighbours' slots:
  // 2, 4, 6, 8 and 12 measured on the aorta (2 threads); 4 was best, 12 already worse.
  static constexpr size_t kOddPrefetchBlocks = 4;

  int threads_;
  size_t n_ = 0;
  size_t N_ = 0;  // padded stride of the population arrays and address rows
  bool big_ = false;
  uint32_t* addr_ = nullptr;
  cpu::OddRunTable odd_runs_;          // the sparse odd step's slots, block by block
  std::vector<uint32_t> port_bcells_;    // boundary cells with a port link: the general pass
  cpu::WallLinkTable<C> walls_;          // interpolated wall links of all other boundary cells
  std::vector<size_t> chunk_;            // first block of each thread's range, plus the end
  void* base_ = nullptr;
  S* f_raw_ = nullptr;
  S* f_ = nullptr;
  CollisionParams<C> params_{};
  std::vector<C> link_flux_, port_scale_, port_rho_;
  std::vector<double> flux_last_, flux_sum_;
  std::vector<double> port_cell_p_;  // port_mean_pressure's per-cell values, kept across calls
  bool bad_ = false;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(SparseLattice lattice, PhysicsConfig cfg, int threads) {
  if (cfg.precision == Precision::Float64)
    return std::make_unique<CpuBackend<double, double>>(std::move(lattice), cfg, threads);
  if (cfg.precision == Precision::Float16)
    return std::make_unique<CpuBackend<half16, float>>(std::move(lattice), cfg, threads);
  if (cfg.precision == Precision::BFloat16)
    return std::make_unique<CpuBackend<bfloat16, float>>(std::move(lattice), cfg, threads);
  return std::make_unique<CpuBackend<float, float>>(std::move(lattice), cfg, threads);
}

}  // namespace hemotwin
