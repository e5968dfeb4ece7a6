// SPDX-License-Identifier: Apache-2.0
// Host-side logic shared by every backend: time loop, port settings and waveforms, divergence stop.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "hemotwin/backend.hpp"
#include "hemotwin/kernels/boundary.hpp"

namespace hemotwin {

Backend::Backend(SparseLattice lattice, PhysicsConfig cfg) : lat_(std::move(lattice)), cfg_(cfg) {
  if (!(cfg_.tau > 0.5))
    throw std::invalid_argument("relaxation time tau = " + std::to_string(cfg_.tau) +
                                " must be > 0.5 (positive viscosity)");
  link_u_.assign(3 * lat_.n_links(), 0.0f);
  port_p_.assign(size_t(lat_.n_ports), 0.0);
  port_wave_.resize(size_t(lat_.n_ports));
  port_flux_.assign(size_t(lat_.n_ports), 0.0);
  port_flux_mean_.assign(size_t(lat_.n_ports), 0.0);
  port_velocity_dirty_.assign(size_t(lat_.n_ports), 0);
}

double Backend::sweep_bytes_per_update() const {
  // populations in and out, and the 18 neighbour addresses of the odd steps on a sparse lattice
  return 2.0 * 19.0 * double(population_bytes(cfg_.precision)) + (lat_.dense_box ? 0.0 : 36.0);
}

size_t Backend::bytes_held() const {
  return lat_.bytes_per_cell(population_bytes(cfg_.precision)) * lat_.n;
}

static void check_port(int port, int n_ports) {
  if (port < 0 || port >= n_ports)
    throw std::out_of_range("port " + std::to_string(port) + " does not exist (the lattice has " +
                            std::to_string(n_ports) + " ports)");
}

void Backend::set_port_kind(int port, PortKind kind) {
  check_port(port, lat_.n_ports);
  const unsigned char lk = kind == PORT_VELOCITY ? LINK_VELOCITY : LINK_PRESSURE;
  // The 0D outlet coupling re-asserts "pressure" every coupling step: only a real change marks the
  // links for upload (on a GPU that is a host-to-device copy of every link's kind and velocity)
  for (uint32_t a = lat_.port_link_begin[size_t(port)]; a < lat_.port_link_begin[size_t(port) + 1]; ++a) {
    unsigned char& k = lat_.link_kind[lat_.port_links[a]];
    if (k != lk) {
      k = lk;
      links_dirty_ = true;
    }
  }
}

void Backend::set_port_pressure(int port, double p_lu) {
  check_port(port, lat_.n_ports);
  port_p_[size_t(port)] = p_lu;
}

void Backend::set_port_velocity(int port, const float* u, size_t m) {
  check_port(port, lat_.n_ports);
  const size_t expected = lat_.port_cell_begin[size_t(port) + 1] - lat_.port_cell_begin[size_t(port)];
  if (m != expected)
    throw std::invalid_argument("port " + std::to_string(port) + " has " + std::to_string(expected) +
                                " cells but " + std::to_string(m) + " velocities were given");
  for (uint32_t a = lat_.port_link_begin[size_t(port)]; a < lat_.port_link_begin[size_t(port) + 1]; ++a) {
    const uint32_t l = lat_.port_links[a];
    const uint32_t pc = lat_.link_port_cell[l];
    for (int d = 0; d < 3; ++d) link_u_[3 * size_t(l) + size_t(d)] = u[3 * size_t(pc) + size_t(d)];
  }
  // only this port's links: a Womersley inlet sets them every step, and re-sending every link (13 B
  // each, ~13 MB on an aorta) would cost a GPU more than the step
  port_velocity_dirty_[size_t(port)] = 1;
}

void Backend::set_port_waveform(int port, std::vector<double> t, std::vector<double> v, double period) {
  check_port(port, lat_.n_ports);
  if (t.size() != v.size()) throw std::invalid_argument("waveform times and values differ in length");
  if (!t.empty() && !(period > 0)) throw std::invalid_argument("waveform period must be > 0 steps");
  for (size_t a = 1; a < t.size(); ++a)
    if (!(t[a] > t[a - 1])) throw std::invalid_argument("waveform times must increase strictly");
  for (double x : v)
    if (!std::isfinite(x)) throw std::invalid_argument("waveform values must be finite");
  port_wave_[size_t(port)] = Wave{std::move(t), std::move(v), period};
}

double Backend::port_factor(int port, int64_t t) const {
  const Wave& w = port_wave_[size_t(port)];
  if (w.t.empty()) return 1.0;
  if (w.t.size() == 1) return w.v[0];
  // periodic piecewise-linear interpolation; the sample after the last wraps to the first + period
  double s = std::fmod(double(t), w.period);
  if (s < w.t.front()) s += w.period;
  size_t k = size_t(std::upper_bound(w.t.begin(), w.t.end(), s) - w.t.begin());
  double t0, t1, v0, v1;
  if (k == 0 || k >= w.t.size()) {
    t0 = w.t.back();
    v0 = w.v.back();
    t1 = w.t.front() + w.period;
    v1 = w.v.front();
    if (s < t0) s += w.period;
  } else {
    t0 = w.t[k - 1];
    v0 = w.v[k - 1];
    t1 = w.t[k];
    v1 = w.v[k];
  }
  const double a = t1 > t0 ? (s - t0) / (t1 - t0) : 0.0;
  return v0 + a * (v1 - v0);
}

void Backend::step(int64_t nsteps) {
  if (nsteps < 0) throw std::invalid_argument("number of steps must be >= 0");
  const size_t np = size_t(lat_.n_ports);
  std::vector<double> scale(np, 1.0), rho(np, 1.0);
  std::vector<double> last(np, 0.0), sum(np, 0.0);
  const int interval = std::max(1, cfg_.divergence_check_interval);
  for (int64_t s = 0; s < nsteps; ++s) {
    for (size_t p = 0; p < np; ++p) {
      const double fac = port_factor(int(p), t_);
      scale[p] = fac;
      rho[p] = 1.0 + 3.0 * port_p_[p] * fac;  // p = cs^2 (rho - 1)
    }
    if (links_dirty_) {
      upload_links();
      links_dirty_ = false;
      ++link_uploads_;
      std::fill(port_velocity_dirty_.begin(), port_velocity_dirty_.end(), 0);
    } else {
      for (size_t p = 0; p < np; ++p)
        if (port_velocity_dirty_[p]) {
          upload_port_velocity(int(p));
          port_velocity_dirty_[p] = 0;
          ++port_velocity_uploads_;
        }
    }
    do_step((t_ & 1) != 0, scale, rho);
    ++t_;
    if ((t_ % interval) == 0 || s + 1 == nsteps) {
      if (poll_bad()) {
        size_t cell = 0;
        double r = 0, u = 0;
        find_bad_cell(cell, r, u);
        std::ostringstream msg;
        msg << "simulation diverged at step " << t_ << ": cell (" << lat_.ijk[3 * cell] << ", "
            << lat_.ijk[3 * cell + 1] << ", " << lat_.ijk[3 * cell + 2] << ") has density " << r
            << " and lattice speed " << u;
        throw DivergenceError(msg.str(), t_, lat_.ijk[3 * cell], lat_.ijk[3 * cell + 1],
                              lat_.ijk[3 * cell + 2], r, u);
      }
    }
  }
  if (nsteps > 0) {
    read_port_flux(last, sum);
    port_flux_ = last;
    for (size_t p = 0; p < np; ++p) port_flux_mean_[p] = sum[p] / double(nsteps);
  }
}

}  // namespace hemotwin
