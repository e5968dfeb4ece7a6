// SPDX-License-Identifier: Apache-2.0
// CUDA backend: device buffers and __global__ wrappers around the SAME kernels/ cell updates the CPU
// loops call (aa_update, correct_boundary_cell, macroscopic), on the same f[q * N + cell] layout. N, the
// stride, is n rounded up to whole warps (kStrideCells), as the CPU pads it to whole pages: every
// population row then starts on a 128-byte line, so a warp's even-step access and its neighbour-address
// reads touch 4 sectors of 32 B, not 5 (counted by the CUDA emulation's memory checker).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "hemotwin/backend.hpp"
#include "hemotwin/core/sliced_links.hpp"
#include "hemotwin/core/warp_slots.hpp"
#include "hemotwin/kernels/aa_step.hpp"

namespace hemotwin {

namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(err));
}

template <class T>
struct DeviceArray {
  T* ptr = nullptr;
  size_t count = 0;
  DeviceArray() = default;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    if (ptr) cudaFree(ptr);
  }
  void allocate(size_t n) {
    if (ptr) cudaFree(ptr);
    ptr = nullptr;
    count = n;
    if (n) check(cudaMalloc(&ptr, n * sizeof(T)), "cudaMalloc");
  }
  size_t bytes() const { return count * sizeof(T); }
  void upload(const std::vector<T>& v) {
    if (v.size() != count) allocate(v.size());
    if (!v.empty()) check(cudaMemcpy(ptr, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  std::vector<T> download() const {
    std::vector<T> v(count);
    if (count) check(cudaMemcpy(v.data(), ptr, count * sizeof(T), cudaMemcpyDeviceToHost), "download");
    return v;
  }
};

// Host staging for the small uploads a run makes every step or coupling step (port values, a
// Womersley inlet's velocities). A cudaMemcpy from the host first waits for all queued GPU work; a
// cudaMemcpyAsync from pinned memory is queued behind it like a kernel, so the host runs ahead. kSlots
// pinned slots in turn, each rewritten only once the copy that last read it has run (its event).
class PinnedRing {
 public:
  static constexpr int kSlots = 8;
  explicit PinnedRing(size_t slot_bytes) : bytes_(std::max<size_t>(slot_bytes, 16)) {
    for (int i = 0; i < kSlots; ++i) {
      check(cudaEventCreateWithFlags(&done_[i], cudaEventDisableTiming), "event");
      check(cudaMallocHost(&slot_[i], bytes_), "cudaMallocHost");
    }
  }
  PinnedRing(const PinnedRing&) = delete;
  PinnedRing& operator=(const PinnedRing&) = delete;
  ~PinnedRing() {
    for (int i = 0; i < kSlots; ++i) {
      cudaFreeHost(slot_[i]);
      cudaEventDestroy(done_[i]);
    }
  }
  // Queues a copy of `bytes` (at most the slot size) from host `src` to device `dst`, ordered after
  // the kernels queued before it and before those queued after it (one stream).
  void upload(void* dst, const void* src, size_t bytes) {
    if (bytes > bytes_) throw std::logic_error("PinnedRing: upload larger than its slots");
    const int i = next_;
    next_ = (next_ + 1) % kSlots;
    check(cudaEventSynchronize(done_[i]), "staging slot");
    std::memcpy(slot_[i], src, bytes);
    check(cudaMemcpyAsync(dst, slot_[i], bytes, cudaMemcpyHostToDevice), "upload");
    check(cudaEventRecord(done_[i]), "event");
  }

 private:
  size_t bytes_;
  void* slot_[kSlots] = {};
  cudaEvent_t done_[kSlots] = {};
  int next_ = 0;
};

constexpr int kBlock = 256;
constexpr size_t kStrideCells = 32;
static_assert(kStrideCells % kGroupCells == 0, "aa_update's cell groups must tile the padded stride");
inline unsigned grid_for(size_t n) { return unsigned((n + kBlock - 1) / kBlock); }
inline size_t padded_stride(size_t n) { return (n + kStrideCells - 1) / kStrideCells * kStrideCells; }

template <class S, class C, bool LES, bool CY, bool ODD>
__global__ void __launch_bounds__(kBlock) stream_collide_kernel(S* __restrict__ f, const uint32_t* __restrict__ addr,
                                                                size_t n, size_t N, CollisionParams<C> p,
                                                                TrtRates<C> rates, int* bad,
                                                                const uint32_t* __restrict__ group_base,
                                                                const GroupRuns* __restrict__ runs) {
  const size_t c = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= n) return;
  if (!aa_update<S, C, LES, CY, ODD>(f, addr, N, c, p, rates, group_base, runs, N / kGroupCells))
    atomicExch(bad, 1);  // rare: a cell went bad; many threads may raise it at once
}

// port_cell (16-bit storage only): per boundary cell, whether it has a port link
template <class S, class C>
__global__ void boundary_kernel(S* f, const uint32_t* addr, size_t N, bool odd_done, BoundaryView<C> bv,
                                size_t nb, const uint8_t* port_cell) {
  const size_t b = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= nb) return;
  if constexpr (Codec<S, C>::SHIFTED) {
    // 16-bit storage, split as the CPU backend splits it, so both round alike: cells with a port link
    // on decoded populations; wall-only cells on the raw stored numbers (its wall table's arithmetic)
    if (port_cell[b]) correct_boundary_cell<C, C, DecodedPtr<S>>(DecodedPtr<S>{f, N}, addr, N, odd_done, bv, b);
    else correct_boundary_cell<C, C, RawPtr<S>>(RawPtr<S>{f}, addr, N, odd_done, bv, b);
  } else {
    correct_boundary_cell<S, C>(f, addr, N, odd_done, bv, b);
  }
}

// Sum over one block in a fixed tree: with each thread's part summed in a fixed stride order, the
// same order every run, so the sums are deterministic. Thread 0 gets the total.
__device__ double block_sum(double v) {
  __shared__ double part[kBlock];
  part[threadIdx.x] = v;
  __syncthreads();
  for (int w = kBlock / 2; w > 0; w >>= 1) {
    if (int(threadIdx.x) < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  return part[0];
}

// One block per port. restart: the host read the sums, this step's total starts them again.
template <class C>
__global__ void port_flux_kernel(const C* link_flux, const uint32_t* port_links, const uint32_t* begin,
                                 double* last, double* sum, bool restart) {
  const int p = blockIdx.x;
  double s = 0;
  for (uint32_t a = begin[p] + threadIdx.x; a < begin[p + 1]; a += kBlock) s += double(link_flux[port_links[a]]);
  const double total = block_sum(s);
  if (threadIdx.x == 0) {
    last[p] = total;
    sum[p] = restart ? total : sum[p] + total;
  }
}

template <class S, class C>
__global__ void port_pressure_kernel(const S* f, const uint32_t* addr, size_t N, bool odd_next,
                                     const uint32_t* cells, const uint32_t* begin, double* out) {
  const int p = blockIdx.x;
  double s = 0;
  for (uint32_t a = begin[p] + threadIdx.x; a < begin[p + 1]; a += kBlock)
    s += cell_pressure_lu<S, C>(f, cells[a], odd_next, addr, N);
  const double total = block_sum(s);
  if (threadIdx.x == 0) {
    const uint32_t m = begin[p + 1] - begin[p];
    out[p] = m ? total / double(m) : 0.0;
  }
}

template <class S, class C, bool LES, bool CY>
__global__ void fields_kernel(const S* f, const uint32_t* addr, size_t n, size_t N, bool odd_next,
                              CollisionParams<C> p, double* rho, double* u, double* sigma) {
  const size_t c = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= n) return;
  C g[19], r, ux, uy, uz, s[6];
  HT_UNROLL
  for (int k = 0; k < 19; ++k) g[k] = Codec<S, C>::decode(f[pre_slot(k, c, odd_next, addr, N)], k);
  macroscopic<C, LES, CY>(g, p, r, ux, uy, uz, s);
  rho[c] = double(r);
  u[3 * c] = double(ux);
  u[3 * c + 1] = double(uy);
  u[3 * c + 2] = double(uz);
  for (int k = 0; k < 6; ++k) sigma[6 * c + k] = double(s[k]);
}

template <class S, class C>
__global__ void canonical_kernel(S* f, const uint32_t* addr, size_t n, size_t N, bool odd_next, double* canon,
                                 bool to_canon) {
  const size_t c = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= n) return;
  for (int k = 0; k < 19; ++k) {  // canon: the unpadded f[k * n + c] the host sees
    const size_t slot = pre_slot(k, c, odd_next, addr, N);
    if (to_canon) canon[size_t(k) * n + c] = double(Codec<S, C>::decode(f[slot], k));
    else f[slot] = Codec<S, C>::encode(C(canon[size_t(k) * n + c]), k);
  }
}

// link_u[port_links[a]] = staged[a - first] for one port's links: its new inlet velocities
__global__ void scatter_port_velocity_kernel(float* link_u, const float* staged, const uint32_t* links, size_t m) {
  const size_t a = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (a >= m) return;
  const size_t l = links[a];
  for (int d = 0; d < 3; ++d) link_u[3 * l + size_t(d)] = staged[3 * a + size_t(d)];
}

template <class S, class C>
__global__ void init_kernel(S* f, size_t n, size_t N) {
  const size_t c = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= n) return;
  for (int k = 0; k < 19; ++k) f[size_t(k) * N + c] = Codec<S, C>::encode(C(D3Q19::w(k)), k);
}

template <class S, class C>
class CudaBackend final : public Backend {
 public:
  CudaBackend(SparseLattice lattice, PhysicsConfig cfg) : Backend(std::move(lattice), cfg) {
    n_ = lat_.n;
    N_ = padded_stride(n_);
    if (19 * N_ >= size_t(std::numeric_limits<uint32_t>::max()))
      throw std::invalid_argument("too many fluid cells for 32-bit addressing (" + std::to_string(n_) + ")");
    params_ = collision_params<C>(cfg_);
    rates_ = TrtRates<C>(params_);
    f_.allocate(19 * N_);
    const std::vector<uint32_t> addr = padded_addresses();
    addr_.upload(addr);
    {
      const WarpSlots ws = warp_slots(addr, N_);  // the odd step's per-warp shortcuts (aa_step.hpp odd_slot)
      group_base_.upload(ws.group_base);
      group_runs_.upload(ws.runs);
      // what a warp reads per row on the odd step: its base, plus a GroupRuns or 32 addresses
      odd_lookup_bytes_ = double(ws.one_run * 4 + ws.two_runs * (4 + sizeof(GroupRuns)) +
                                 ws.table * (4 + kGroupCells * 4)) / double(N_);
    }
    // the boundary cells and link arrays in the sliced layout (BoundaryView): a warp's j-th links
    // side by side, its cells with similar link counts
    sliced_ = slice_links(lat_.link_begin, kGroupCells, kBlock);
    bcells_.upload(sliced_.gather_cells(lat_.bcells));
    link_begin_.upload(sliced_.slice_begin);
    link_count_.upload(sliced_.count);
    link_dir_.upload(sliced_.scatter(lat_.link_dir, uint8_t(0)));
    link_port_.upload(sliced_.scatter(lat_.link_port, int16_t(-1)));
    link_q_.upload(sliced_.scatter(lat_.link_q, 0.5f));
    link_flux_.allocate(sliced_.entries);
    if constexpr (Codec<S, C>::SHIFTED) port_cell_.upload(sliced_.gather_cells(lat_.boundary_cells_with_port_link()));
    check(cudaMemset(link_flux_.ptr, 0, link_flux_.count * sizeof(C)), "memset");
    std::vector<uint32_t> port_links(lat_.port_links.size());  // as entries of the sliced arrays
    for (size_t a = 0; a < port_links.size(); ++a) port_links[a] = sliced_.position[lat_.port_links[a]];
    port_links_.upload(port_links);
    port_link_begin_.upload(lat_.port_link_begin);
    port_cells_.upload(lat_.port_cells);
    port_cell_begin_.upload(lat_.port_cell_begin);
    const size_t np = size_t(lat_.n_ports);
    report_.upload(std::vector<double>(kReportHead + 3 * np, 0.0));
    report_host_.assign(report_.count, 0.0);
    port_vals_.upload(std::vector<C>(2 * np, C(1)));
    size_t most_links = 0;  // of one port: the largest inlet-velocity upload
    for (size_t p = 0; p < np; ++p)
      most_links = std::max<size_t>(most_links, lat_.port_link_begin[p + 1] - lat_.port_link_begin[p]);
    staged_.allocate(3 * most_links);  // once: a cudaFree mid-run would wait for the device
    staging_ = std::make_unique<PinnedRing>(std::max(2 * np * sizeof(C), staged_.bytes()));
    init_kernel<S, C><<<grid_for(n_), kBlock>>>(f_.ptr, n_, N_);
    check(cudaGetLastError(), "init_kernel");
    upload_links();
  }
  // populations read and written, and the odd step's slot lookups (see the constructor)
  double sweep_bytes_per_update() const override { return 2.0 * 19.0 * double(sizeof(S)) + 0.5 * odd_lookup_bytes_; }

  // device memory: every array this backend keeps (a new member array belongs in this sum too)
  size_t bytes_held() const override {
    return f_.bytes() + group_runs_.bytes() + addr_.bytes() + group_base_.bytes() + bcells_.bytes() +
           link_begin_.bytes() + port_links_.bytes() + port_link_begin_.bytes() + port_cells_.bytes() +
           port_cell_begin_.bytes() + link_count_.bytes() + link_dir_.bytes() + link_kind_.bytes() +
           port_cell_.bytes() + link_port_.bytes() + link_q_.bytes() + link_u_d_.bytes() + staged_.bytes() +
           link_flux_.bytes() + port_vals_.bytes() + report_.bytes();
  }

  std::string name() const override { return "cuda"; }

  // The 0D coupling asks for these every coupling step, right after step() read the report back:
  // they come from that same copy.
  std::vector<double> port_mean_pressure() override {
    const size_t np = size_t(lat_.n_ports);
    if (np == 0) return {};
    if (!report_is_current()) read_report();
    const double* p = report_host_.data() + kReportHead + 2 * np;
    return std::vector<double>(p, p + np);
  }

  void fields(double* rho, double* u, double* sigma) override {
    DeviceArray<double> d_rho, d_u, d_s;
    d_rho.allocate(n_);
    d_u.allocate(3 * n_);
    d_s.allocate(6 * n_);
    const bool odd_next = (t_ & 1) != 0;
    const bool les = cfg_.smagorinsky > 0, cy = cfg_.carreau_yasuda;
    if (les && cy) fields_kernel<S, C, true, true><<<grid_for(n_), kBlock>>>(f_.ptr, addr_.ptr, n_, N_, odd_next, params_, d_rho.ptr, d_u.ptr, d_s.ptr);
    else if (les) fields_kernel<S, C, true, false><<<grid_for(n_), kBlock>>>(f_.ptr, addr_.ptr, n_, N_, odd_next, params_, d_rho.ptr, d_u.ptr, d_s.ptr);
    else if (cy) fields_kernel<S, C, false, true><<<grid_for(n_), kBlock>>>(f_.ptr, addr_.ptr, n_, N_, odd_next, params_, d_rho.ptr, d_u.ptr, d_s.ptr);
    else fields_kernel<S, C, false, false><<<grid_for(n_), kBlock>>>(f_.ptr, addr_.ptr, n_, N_, odd_next, params_, d_rho.ptr, d_u.ptr, d_s.ptr);
    check(cudaGetLastError(), "fields_kernel");
    copy_out(rho, d_rho);
    copy_out(u, d_u);
    copy_out(sigma, d_s);
  }

  void get_populations(double* out) override { canonical(out, true); }
  void set_populations(const double* in) override {
    report_t_ = -1;  // the copy no longer describes the populations
    canonical(const_cast<double*>(in), false);
  }

 protected:
  void do_step(bool odd, const std::vector<double>& scale, const std::vector<double>& rho) override {
    const size_t np = size_t(lat_.n_ports);
    if (np) {
      std::vector<C> vals(2 * np);
      bool changed = false;
      for (size_t p = 0; p < np; ++p) {
        vals[p] = C(scale[p]);
        vals[np + p] = C(rho[p]);
        changed |= (vals[p] != host_vals_[p]) || (vals[np + p] != host_vals_[np + p]);
      }
      if (changed) {  // a tiny queued copy, only when a waveform or 0D model moved the port values
        host_vals_ = vals;
        staging_->upload(port_vals_.ptr, host_vals_.data(), 2 * np * sizeof(C));
      }
    }
    const bool les = cfg_.smagorinsky > 0, cy = cfg_.carreau_yasuda;
    if (odd) launch<true>(les, cy);
    else launch<false>(les, cy);
    const size_t nb = lat_.bcells.size();
    if (nb) {
      BoundaryView<C> bv{bcells_.ptr, link_begin_.ptr, link_dir_.ptr, link_kind_.ptr, link_port_.ptr, link_q_.ptr,
                         link_u_d_.ptr, link_flux_.ptr, port_vals_.ptr, port_vals_.ptr + np, cfg_.bouzidi ? 1 : 0,
                         link_count_.ptr};
      boundary_kernel<S, C><<<grid_for(nb), kBlock>>>(f_.ptr, addr_.ptr, N_, odd, bv, nb, port_cell_.ptr);
    }
    if (np) {
      double* last = report_.ptr + kReportHead;
      port_flux_kernel<C><<<unsigned(np), kBlock>>>(link_flux_.ptr, port_links_.ptr, port_link_begin_.ptr, last,
                                                    last + np, restart_flux_sum_);
      restart_flux_sum_ = false;
    }
  }

  // The only read-back of a step() call (and every 32 steps within it): flag, fluxes and port
  // pressures in one copy, so a coupled step waits for the GPU once, not once per quantity.
  bool poll_bad() override {
    check(cudaGetLastError(), "stream-collide step");
    read_report();
    int flag = 0;
    std::memcpy(&flag, report_host_.data(), sizeof(int));
    if (flag) check(cudaMemset(report_.ptr, 0, sizeof(int)), "reset flag");
    return flag != 0;
  }

  void upload_links() override {
    link_kind_.upload(sliced_.scatter(lat_.link_kind, uint8_t(LINK_WALL)));
    link_u_d_.upload(sliced_.scatter(link_u_, 0.0f, 3));
    host_vals_.assign(2 * size_t(lat_.n_ports), C(-1));  // force a port-value upload
  }

  // A few kB (the port's links) instead of every link's kind and velocity. port_links_ holds the
  // links' sliced entries, so the scatter kernel writes where the boundary kernel reads.
  void upload_port_velocity(int port) override {
    const uint32_t first = lat_.port_link_begin[size_t(port)], end = lat_.port_link_begin[size_t(port) + 1];
    const size_t m = end - first;
    if (!m) return;
    staged_host_.resize(3 * m);
    for (size_t a = 0; a < m; ++a) {
      const size_t l = lat_.port_links[first + a];
      for (int d = 0; d < 3; ++d) staged_host_[3 * a + size_t(d)] = link_u_[3 * l + size_t(d)];
    }
    // queued: the scatter below and the previous port's scatter run in order with this copy
    staging_->upload(staged_.ptr, staged_host_.data(), 3 * m * sizeof(float));
    scatter_port_velocity_kernel<<<grid_for(m), kBlock>>>(link_u_d_.ptr, staged_.ptr, port_links_.ptr + first, m);
    check(cudaGetLastError(), "scatter_port_velocity_kernel");
  }

  void read_port_flux(std::vector<double>& last, std::vector<double>& sum) override {
    const size_t np = size_t(lat_.n_ports);
    if (!report_is_current()) read_report();  // step() polled just before: current
    const double* r = report_host_.data() + kReportHead;
    last.assign(r, r + np);
    sum.assign(r + np, r + 2 * np);
    restart_flux_sum_ = true;
  }

  void find_bad_cell(size_t& cell, double& rho_out, double& umag) override {
    std::vector<double> r(n_), u(3 * n_), s(6 * n_);
    fields(r.data(), u.data(), s.data());
    cell = 0;
    rho_out = std::numeric_limits<double>::quiet_NaN();
    umag = rho_out;
    for (size_t c = 0; c < n_; ++c) {
      const double u2 = u[3 * c] * u[3 * c] + u[3 * c + 1] * u[3 * c + 1] + u[3 * c + 2] * u[3 * c + 2];
      if (!(r[c] > 0.2 && r[c] < 5.0 && u2 < 0.5)) {
        cell = c;
        rho_out = r[c];
        umag = std::sqrt(u2);
        return;
      }
    }
  }

 private:
  // report_: the divergence flag (an int in the first double), then per port the last step's flux,
  // the flux summed since read_port_flux, and the mean port pressure; report_host_ its last copy
  static constexpr size_t kReportHead = 1;
  int* bad_flag() const { return reinterpret_cast<int*>(report_.ptr); }
  // every step advances t_, so a copy taken at this t_ (and no set_populations since) is current
  bool report_is_current() const { return report_t_ == t_; }
  void read_report() {
    const size_t np = size_t(lat_.n_ports);
    if (np) {
      port_pressure_kernel<S, C><<<unsigned(np), kBlock>>>(f_.ptr, addr_.ptr, N_, (t_ & 1) != 0, port_cells_.ptr,
                                                        port_cell_begin_.ptr, report_.ptr + kReportHead + 2 * np);
      check(cudaGetLastError(), "port_pressure_kernel");
    }
    check(cudaMemcpy(report_host_.data(), report_.ptr, report_.bytes(), cudaMemcpyDeviceToHost), "step report");
    report_t_ = t_;
  }

  template <bool ODD>
  void launch(bool les, bool cy) {
    const unsigned g = grid_for(n_);
    if (les && cy) stream_collide_kernel<S, C, true, true, ODD><<<g, kBlock>>>(f_.ptr, addr_.ptr, n_, N_, params_, rates_, bad_flag(), group_base_.ptr, group_runs_.ptr);
    else if (les) stream_collide_kernel<S, C, true, false, ODD><<<g, kBlock>>>(f_.ptr, addr_.ptr, n_, N_, params_, rates_, bad_flag(), group_base_.ptr, group_runs_.ptr);
    else if (cy) stream_collide_kernel<S, C, false, true, ODD><<<g, kBlock>>>(f_.ptr, addr_.ptr, n_, N_, params_, rates_, bad_flag(), group_base_.ptr, group_runs_.ptr);
    else stream_collide_kernel<S, C, false, false, ODD><<<g, kBlock>>>(f_.ptr, addr_.ptr, n_, N_, params_, rates_, bad_flag(), group_base_.ptr, group_runs_.ptr);
  }

  // The lattice's neighbour table (slots k * n + cell) re-based on the padded stride (k * N + cell).
  std::vector<uint32_t> padded_addresses() const {
    std::vector<uint32_t> a(18 * N_);
    for (size_t r = 0; r < 18; ++r)
      for (size_t c = 0; c < N_; ++c) a[r * N_ + c] = padded_address(lat_.addr.data(), n_, N_, r, c);
    return a;
  }

  void copy_out(double* host, const DeviceArray<double>& d) {
    if (host) check(cudaMemcpy(host, d.ptr, d.count * sizeof(double), cudaMemcpyDeviceToHost), "fields");
  }

  void canonical(double* host, bool to_canon) {
    DeviceArray<double> d;
    d.allocate(19 * n_);
    if (!to_canon) check(cudaMemcpy(d.ptr, host, 19 * n_ * sizeof(double), cudaMemcpyHostToDevice), "populations");
    canonical_kernel<S, C><<<grid_for(n_), kBlock>>>(f_.ptr, addr_.ptr, n_, N_, (t_ & 1) != 0, d.ptr, to_canon);
    check(cudaGetLastError(), "canonical_kernel");
    if (to_canon) copy_out(host, d);
    else check(cudaDeviceSynchronize(), "populations");
  }

  size_t n_ = 0;
  size_t N_ = 0;  // stride of the population rows and address rows: n_ rounded up to whole warps
  CollisionParams<C> params_{};
  TrtRates<C> rates_{};
  double odd_lookup_bytes_ = 0;  // per cell, on an odd step
  DeviceArray<S> f_;
  DeviceArray<GroupRuns> group_runs_;
  DeviceArray<uint32_t> addr_, group_base_, bcells_, link_begin_, port_links_, port_link_begin_, port_cells_, port_cell_begin_;
  SlicedLinks sliced_;
  DeviceArray<uint8_t> link_count_, link_dir_, link_kind_, port_cell_;
  DeviceArray<int16_t> link_port_;
  DeviceArray<float> link_q_, link_u_d_, staged_;
  std::vector<float> staged_host_;
  DeviceArray<C> link_flux_, port_vals_;
  DeviceArray<double> report_;
  std::vector<double> report_host_;
  int64_t report_t_ = -1;  // t_ of report_host_'s copy; -1: none current
  bool restart_flux_sum_ = true;
  std::unique_ptr<PinnedRing> staging_;
  std::vector<C> host_vals_;
};

}  // namespace

int cuda_device_count_impl() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

std::string cuda_device_name_impl() {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return std::string();
  return prop.name;
}

double cuda_copy_bandwidth_gbps_impl(size_t bytes, int repeats) {
  DeviceArray<char> a, b;
  a.allocate(bytes);
  b.allocate(bytes);
  check(cudaMemset(a.ptr, 1, bytes), "memset");
  check(cudaMemcpy(b.ptr, a.ptr, bytes, cudaMemcpyDeviceToDevice), "copy warm-up");
  cudaEvent_t e0, e1;
  check(cudaEventCreate(&e0), "event");
  check(cudaEventCreate(&e1), "event");
  // the mean over `repeats` back-to-back copies, as the 2026-11-27 figure and torch's cross-check
  const int r = std::max(repeats, 1);
  check(cudaEventRecord(e0), "event");
  for (int i = 0; i < r; ++i) check(cudaMemcpy(b.ptr, a.ptr, bytes, cudaMemcpyDeviceToDevice), "copy");
  check(cudaEventRecord(e1), "event");
  check(cudaEventSynchronize(e1), "event");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, e0, e1), "event");
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return 2.0 * double(bytes) * r / (double(ms) / 1e3) / 1e9;
}

std::unique_ptr<Backend> make_cuda_backend(SparseLattice lattice, PhysicsConfig cfg) {
  // Reading the divergence flag synchronises host and device: do it every 32 steps at most.
  cfg.divergence_check_interval = std::max(cfg.divergence_check_interval, 32);
  // 16-bit storage: float32 arithmetic on shifted 16-bit populations, as on the CPU (kernels/storage.hpp)
  if (cfg.precision == Precision::Float16)
    return std::make_unique<CudaBackend<half16, float>>(std::move(lattice), cfg);
  if (cfg.precision == Precision::BFloat16)
    return std::make_unique<CudaBackend<bfloat16, float>>(std::move(lattice), cfg);
  if (cfg.precision == Precision::Float64)
    return std::make_unique<CudaBackend<double, double>>(std::move(lattice), cfg);
  return std::make_unique<CudaBackend<float, float>>(std::move(lattice), cfg);
}

}  // namespace hemotwin
