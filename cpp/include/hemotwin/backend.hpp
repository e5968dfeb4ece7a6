// SPDX-License-Identifier: Apache-2.0
// The Backend interface: allocate, step, reduce ports, download fields; make_backend("cpu" | "cuda").
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "hemotwin/core/sparse_lattice.hpp"
#include "hemotwin/kernels/collision.hpp"

namespace hemotwin {

// Population storage; arithmetic is float64 for Float64 and float32 otherwise. Float16 (IEEE
// binary16) and BFloat16 store shifted, scaled 16-bit populations (CPU backend only).
enum class Precision { Float32, Float64, Float16, BFloat16 };
inline size_t population_bytes(Precision p) {
  return p == Precision::Float64 ? 8 : (p == Precision::Float32 ? 4 : 2);
}

struct PhysicsConfig {  // lattice units
  double tau = 0.8;
  double magic = 3.0 / 16.0;  // TRT Lambda; <= 0 selects BGK
  double smagorinsky = 0.0;   // Cs (0: LES off)
  bool regularized = false;   // regularized BGK collision (magic is then ignored)
  bool carreau_yasuda = false;
  double cy_nu0 = 0, cy_nu_inf = 0, cy_lambda = 0, cy_n = 1, cy_a = 2;
  bool bouzidi = true;
  Precision precision = Precision::Float32;
  int divergence_check_interval = 1;  // steps between reads of the fused non-physical-cell flag
};

// The per-cell parameters every backend passes to the kernels, in compute precision C.
template <class C>
CollisionParams<C> collision_params(const PhysicsConfig& cfg) {
  CollisionParams<C> p{};
  p.tau = C(cfg.tau);
  p.magic = C(cfg.magic);
  p.cs2_smag = C(cfg.smagorinsky * cfg.smagorinsky);
  p.cy_nu0 = C(cfg.cy_nu0);
  p.cy_nu_inf = C(cfg.cy_nu_inf);
  p.cy_lambda = C(cfg.cy_lambda);
  p.cy_n = C(cfg.cy_n);
  p.cy_a = C(cfg.cy_a);
  p.regularized = cfg.regularized ? 1 : 0;
  p.trt = cfg.magic > 0 ? 1 : 0;
  return p;
}

struct DivergenceError : std::runtime_error {
  DivergenceError(const std::string& msg, int64_t step, int32_t i, int32_t j, int32_t k, double rho,
                  double umag)
      : std::runtime_error(msg), step(step), i(i), j(j), k(k), rho(rho), umag(umag) {}
  int64_t step;
  int32_t i, j, k;
  double rho, umag;
};

enum PortKind { PORT_VELOCITY = 1, PORT_PRESSURE = 2 };

class Backend {
 public:
  Backend(SparseLattice lattice, PhysicsConfig cfg);
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  void step(int64_t nsteps);  // throws DivergenceError
  int64_t time_step() const { return t_; }
  // How many times step() re-sent the link kinds and inlet velocities (a diagnostic for tests)
  int64_t link_uploads() const { return link_uploads_; }
  // How many times step() re-sent one port's inlet velocities alone (a Womersley inlet, every step)
  int64_t port_velocity_uploads() const { return port_velocity_uploads_; }
  const SparseLattice& lattice() const { return lat_; }
  const PhysicsConfig& config() const { return cfg_; }

  // Ports: kind, imposed pressure (lattice units, p = cs^2 (rho - 1)), inlet velocities per port
  // cell (lattice units), and a periodic time factor sampled at (t_steps, value) pairs.
  void set_port_kind(int port, PortKind kind);
  void set_port_pressure(int port, double p_lu);
  void set_port_velocity(int port, const float* u, size_t n_port_cells);
  void set_port_waveform(int port, std::vector<double> t_steps, std::vector<double> values,
                         double period_steps);
  double port_factor(int port, int64_t t) const;
  std::vector<double> port_flux() const { return port_flux_; }  // mass out of the fluid, last step
  std::vector<double> port_flux_mean() const { return port_flux_mean_; }  // mean over the last step() call
  virtual std::vector<double> port_mean_pressure() = 0;          // mean cs^2 (rho - 1) on port cells

  // Fields from the current (pre-collision) state, per fluid cell in lattice order.
  virtual void fields(double* rho, double* u, double* sigma) = 0;
  virtual void get_populations(double* f_canonical) = 0;  // (19, n): f_i of cell c before collision
  virtual void set_populations(const double* f_canonical) = 0;
  void set_time_step(int64_t t) { t_ = t; }

  // Bytes a step moves per fluid cell, averaged over an even and an odd step: populations read and
  // written plus the index tables the sweep reads (boundary passes not included).
  virtual double sweep_bytes_per_update() const;
  // Bytes this backend holds for the run (populations, index tables, lattice, boundary links); the
  // CUDA backend counts its device memory.
  virtual size_t bytes_held() const;

 protected:
  // One fused stream-collide step at parity (t even/odd), then the boundary pass; a cell found
  // non-physical sets a sticky flag that poll_bad() reads.
  virtual void do_step(bool odd, const std::vector<double>& port_scale,
                       const std::vector<double>& port_rho) = 0;
  virtual bool poll_bad() = 0;  // reads and clears the sticky non-physical-cell flag
  virtual void upload_links() = 0;  // link kinds changed on the host: send every link's kind and velocity
  // Only this port's inlet velocities changed (link_u_ at its links): a backend with its own copy
  // of link_u_ sends those; the CPU reads link_u_ itself.
  virtual void upload_port_velocity(int port) { (void)port; }
  // Each do_step adds its per-port mass flux to an accumulator; this returns the last step's and the
  // accumulated sums (fixed-order reductions) and clears the accumulator.
  virtual void read_port_flux(std::vector<double>& last, std::vector<double>& sum) = 0;
  // Locates the first non-physical cell after a failed step.
  virtual void find_bad_cell(size_t& cell, double& rho, double& umag) = 0;

  SparseLattice lat_;
  PhysicsConfig cfg_;
  int64_t t_ = 0;
  std::vector<float> link_u_;  // 3 per link
  std::vector<double> port_p_;
  struct Wave {
    std::vector<double> t, v;
    double period = 0;
  };
  std::vector<Wave> port_wave_;
  std::vector<double> port_flux_, port_flux_mean_;
  bool links_dirty_ = true;
  std::vector<unsigned char> port_velocity_dirty_;  // per port, when links_dirty_ is not set
  int64_t link_uploads_ = 0, port_velocity_uploads_ = 0;
};

std::unique_ptr<Backend> make_backend(const std::string& device, SparseLattice lattice,
                                      PhysicsConfig cfg, int threads);
int cuda_device_count();  // 0 when CUDA is not compiled in or no device is usable
std::string cuda_device_name();
// Device-to-device cudaMemcpy of `bytes`, mean over `repeats` timed copies, counting bytes read plus
// written (the roofline the GPU benchmark reports against); throws without a usable GPU.
double cuda_copy_bandwidth_gbps(size_t bytes, int repeats);

}  // namespace hemotwin
