// SPDX-License-Identifier: Apache-2.0
// Stand-alone timing of the CPU backend without Python: a periodic box (dense) or a sphere-filled
// box (sparse) stepped for a fixed number of steps. Build: see benchmarks/kernel/build.sh.
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "hemotwin/backend.hpp"
#include "hemotwin/core/cpu_stream.hpp"
#include "hemotwin/lattice/d3q19.hpp"

using namespace hemotwin;

// Process CPU time: on a shared, oversubscribed machine it counts only the time this process ran.
static double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "triad") {  // triad MiB threads
    const size_t mib = argc > 2 ? size_t(std::atoll(argv[2])) : 1536;
    const int t = argc > 3 ? std::atoi(argv[3]) : 0;
    std::printf("triad %zu MiB threads=%d: %.1f GB/s\n", mib, t, stream_triad_gbps(mib << 20, t));
    return 0;
  }
  const int n = argc > 1 ? std::atoi(argv[1]) : 64;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 20;
  const std::string prec = argc > 3 ? argv[3] : "float32";
  const int threads = argc > 4 ? std::atoi(argv[4]) : 0;
  const std::string geom = argc > 5 ? argv[5] : "dense";
  // "file:PATH": a raw uint8 cell-type volume of n0 x n1 x n2 (k fastest), shape in PATH.shape
  const bool from_file = geom.rfind("file:", 0) == 0;
  const bool sparse = geom == "sparse" || from_file;
  int64_t dims[3] = {n, n, n};
  if (from_file) {
    const std::string path = geom.substr(5);
    FILE* sf = std::fopen((path + ".shape").c_str(), "r");
    if (!sf || std::fscanf(sf, "%lld %lld %lld", (long long*)&dims[0], (long long*)&dims[1], (long long*)&dims[2]) != 3) {
      std::fprintf(stderr, "cannot read %s.shape (three integers)\n", path.c_str());
      return 2;
    }
    std::fclose(sf);
  }
  std::vector<uint8_t> ct(size_t(dims[0] * dims[1] * dims[2]), 1);
  bool per[3] = {true, true, true};
  if (from_file) {
    per[0] = per[1] = per[2] = false;
    FILE* f = std::fopen(geom.substr(5).c_str(), "rb");
    if (!f || std::fread(ct.data(), 1, ct.size(), f) != ct.size()) {
      std::fprintf(stderr, "cannot read %zu bytes from %s\n", ct.size(), geom.substr(5).c_str());
      return 2;
    }
    std::fclose(f);
  } else if (sparse) {  // a solid-walled cylinder along z, periodic along its axis
    per[0] = per[1] = false;
    const double r = 0.45 * n, c = 0.5 * (n - 1);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        for (int k = 0; k < n; ++k)
          ct[(size_t(i) * n + j) * n + k] = ((i - c) * (i - c) + (j - c) * (j - c) < r * r) ? 1 : 0;
  }
  const bool morton = !(argc > 8 && std::string(argv[8]) == "natural");
  std::vector<WallLinkInput> walls;
  if (std::getenv("HT_WALL_Q")) {  // interpolated (Bouzidi) walls: every wall link gets a q in (0.05, 0.95)
    uint64_t st = 777;
    for (int64_t i = 0; i < dims[0]; ++i)
      for (int64_t j = 0; j < dims[1]; ++j)
        for (int64_t k = 0; k < dims[2]; ++k) {
          if (ct[size_t((i * dims[1] + j) * dims[2] + k)] != 1) continue;
          for (int d = 1; d < 19; ++d) {
            const int64_t a = i + D3Q19::cx(d), bb = j + D3Q19::cy(d), c = k + D3Q19::cz(d);
            const bool inside = a >= 0 && bb >= 0 && c >= 0 && a < dims[0] && bb < dims[1] && c < dims[2];
            if (per[0] || (inside && ct[size_t((a * dims[1] + bb) * dims[2] + c)] == 1)) continue;
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            walls.push_back({int32_t(i), int32_t(j), int32_t(k), d, 0.05 + 0.9 * double(st >> 11) / 9007199254740992.0});
          }
        }
  }
  SparseLattice L = build_sparse_lattice(ct.data(), dims[0], dims[1], dims[2], walls, per, morton);
  const size_t cells = L.n;
  PhysicsConfig cfg;
  cfg.tau = 0.6;
  cfg.precision = prec == "float64"    ? Precision::Float64
                  : prec == "float16"  ? Precision::Float16
                  : prec == "bfloat16" ? Precision::BFloat16
                                       : Precision::Float32;
  cfg.divergence_check_interval = 1000000;
  if (argc > 6) cfg.magic = std::atof(argv[6]);  // <= 0: BGK
  if (argc > 7) cfg.smagorinsky = std::atof(argv[7]);
  if (std::getenv("HT_REGULARIZED")) cfg.regularized = true;  // regularized BGK (the clinical default)
  std::vector<int32_t> ijk = L.ijk;
  auto b = make_backend("cpu", std::move(L), cfg, threads);
  {  // a shear wave plus a little deterministic noise, so every collision does real work
    std::vector<double> f(19 * cells);
    uint64_t st = 12345;
    for (size_t c = 0; c < cells; ++c) {
      const double ux = 0.03 * std::sin(6.283185307179586 * ijk[3 * c + 1] / n), uy = 0.01, uz = -0.02;
      for (int i = 0; i < 19; ++i) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        const double noise = 1e-3 * (double(st >> 11) / 9007199254740992.0 - 0.5);
        const double cu = D3Q19::cx(i) * ux + D3Q19::cy(i) * uy + D3Q19::cz(i) * uz;
        f[size_t(i) * cells + c] =
            D3Q19::w(i) * (1 + 3 * cu + 4.5 * cu * cu - 1.5 * (ux * ux + uy * uy + uz * uz)) + D3Q19::w(i) * noise;
      }
    }
    b->set_populations(f.data());
  }
  b->step(2);
  auto t0 = std::chrono::steady_clock::now();
  b->step(steps);
  auto t1 = std::chrono::steady_clock::now();
  const double s = std::chrono::duration<double>(t1 - t0).count();
  if (std::getenv("HT_PARITY")) {  // time even and odd sweeps apart
    double te = 0, to = 0;
    for (int r = 0; r < steps / 2; ++r) {
      const double a = cpu_now();
      b->step(1);
      const double m = cpu_now();
      b->step(1);
      const double e = cpu_now();
      te += m - a;
      to += e - m;
    }
    const int nt = threads > 0 ? threads : 1;
    std::printf("per CPU-second x threads: even %.1f MLUPS, odd %.1f MLUPS\n",
                double(cells) * (steps / 2) / te * nt * 1e-6, double(cells) * (steps / 2) / to * nt * 1e-6);
  }
  std::printf("%s n=%d cells=%zu %s threads=%d: %.1f MLUPS (%.3f s)\n", sparse ? "sparse" : "dense", n, cells,
              prec.c_str(), threads, double(cells) * steps / s * 1e-6, s);
  // checksum of the state for bit-identity checks
  std::vector<double> f(19 * cells);
  b->get_populations(f.data());
  double sum = 0;
  for (size_t a = 0; a < f.size(); ++a) sum += f[a] * double((a % 97) + 1);
  std::printf("checksum %.17g\n", sum);
  return 0;
}
