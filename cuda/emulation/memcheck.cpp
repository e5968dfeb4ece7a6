// SPDX-License-Identifier: Apache-2.0
// The CUDA emulation's memory checker (see memcheck.hpp): shadow state per 2 device bytes, fed by the
// compiler's access instrumentation of the emulated kernels. This file itself is not instrumented.
#include "memcheck.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>
#include <vector>

#include "cuda_runtime.h"

namespace hemotwin_emu::memcheck {
namespace {

// Bytes of device memory per shadow word: the narrowest element threads store side by side, a 16-bit
// population (with 4, two threads writing adjacent 16-bit slots were reported as a race)
constexpr size_t kGrain = 2;

// what one launch has done to kGrain bytes of device memory (reset lazily: a stale epoch means untouched)
struct Word {
  uint32_t epoch = 0, writer = 0, reader = 0;  // global thread id + 1; 0 none
  uint32_t initialised = 0;
};
constexpr uint32_t kManyReaders = 0xFFFFFFFFu;

struct Region {
  size_t bytes = 0;
  unsigned serial = 0;  // the allocation's number, in order of cudaMalloc calls
  std::vector<Word> words;
  std::vector<uint32_t> read_epoch, write_epoch;  // per 32-byte sector: the last launch that touched it
};

struct Counts {
  uint64_t launches = 0, threads = 0;
  uint64_t loads = 0, stores = 0, load_bytes = 0, store_bytes = 0;
  // warp-wide memory instructions and the distinct 32-byte sectors each touched (L1 -> L2 traffic)
  uint64_t load_requests = 0, store_requests = 0, load_sectors = 0, store_sectors = 0;
  // distinct sectors a block loads: its loads' L1 -> L2 traffic where L1 keeps what the block's
  // warps share (a GPU's L1 caches loads; stores write through, so store_sectors stand)
  uint64_t block_load_sectors = 0;
  // distinct sectors read / written per launch, summed over launches (what DRAM must move at least)
  uint64_t footprint_read_sectors = 0, footprint_write_sectors = 0;
  // the sectors (loads and stores) per device allocation, by its number: which array costs what
  std::map<unsigned, uint64_t> sectors_by_allocation;
};

struct Access {
  uint32_t warp, occurrence, allocation;
  uintptr_t pc, sector;
  bool write;
  bool operator<(const Access& o) const {
    return std::tie(warp, pc, occurrence, write, sector) < std::tie(o.warp, o.pc, o.occurrence, o.write, o.sector);
  }
  bool same_request(const Access& o) const {
    return warp == o.warp && pc == o.pc && occurrence == o.occurrence && write == o.write;
  }
};

struct Launch {
  const char* name = "";
  size_t threads = 0, block = 0;
  uint32_t epoch = 0;
  Counts counts;
  // per thread of the current block: how often it has executed each memory instruction, so the k-th
  // execution by each lane of a warp forms one warp-wide request (loops are not unrolled here)
  std::vector<std::vector<std::pair<uintptr_t, uint32_t>>> executed;
  std::vector<Access> accesses;  // the current block's
  std::vector<uintptr_t> block_sectors;
  size_t errors = 0;
  std::string first_error;
  // the last region hit
  uintptr_t cache_start = 1, cache_end = 0;
  Region* cache = nullptr;
};

std::map<uintptr_t, Region> g_regions;  // device allocation start -> shadow
unsigned g_serial = 0;
std::map<unsigned, size_t> g_allocation_bytes;  // every allocation's size by its number, freed ones too
uint32_t g_epoch = 0;
std::map<std::string, Counts> g_counts;
uint64_t g_errors = 0;
Launch g_launch;
// set only while a checked launch runs (one at a time). A plain global, not thread_local: the hooks
// below run on every load and store of the emulated code, checked or not, and a TLS lookup in a
// shared library (__tls_get_addr) made the unchecked emulation several times slower.
Launch* g_active = nullptr;

std::string hex(uintptr_t v) {
  char b[32];
  std::snprintf(b, sizeof(b), "0x%zx", size_t(v));
  return b;
}

// the .cu line of an instrumented access, when addr2line and the build's line tables allow
std::string source_of(uintptr_t pc) {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void*>(pc), &info) || !info.dli_fname) return "";
  const uintptr_t offset = pc - reinterpret_cast<uintptr_t>(info.dli_fbase) - 1;
  const std::string cmd = std::string("addr2line -C -i -e '") + info.dli_fname + "' " + hex(offset) + " 2>/dev/null";
  std::string lines;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof(buf), p)) {
      std::string l(buf);
      while (!l.empty() && (l.back() == '\n' || l.back() == ' ')) l.pop_back();
      if (l.empty() || l.rfind("??", 0) == 0) continue;
      if (const size_t disc = l.find(" (discriminator"); disc != std::string::npos) l.resize(disc);
      lines += (lines.empty() ? "" : " <- ") + l;
    }
    pclose(p);
  }
  return lines.empty() ? " (code at " + std::string(info.dli_fname) + "+" + hex(offset) + ")" : " (at " + lines + ")";
}

std::string thread_name(uint32_t id, const Launch& L) {
  const size_t g = id - 1;
  return "thread " + std::to_string(g % L.threads) + " of block " + std::to_string(g / L.threads);
}

std::string where(const Region& r, uintptr_t start, uintptr_t a) {
  return "byte " + std::to_string(a - start) + " of device allocation #" + std::to_string(r.serial) + " (" +
         std::to_string(r.bytes) + " bytes)";
}

void report(Launch& L, uintptr_t pc, const std::string& what) {
  ++L.errors;
  if (L.first_error.empty()) L.first_error = what + source_of(pc);
}

// The region [a, a + size) lies in, or null for memory that is no device allocation's (the stack, the
// kernel's arguments, __shared__). An access reaching into an allocation's guard zone is reported.
Region* region_of(Launch& L, uintptr_t a, size_t size, uintptr_t pc, uint32_t me, uintptr_t& start) {
  if (a >= L.cache_start && a + size <= L.cache_end) {
    start = L.cache_start;
    return L.cache;
  }
  auto next = g_regions.upper_bound(a);
  if (next != g_regions.begin()) {
    auto it = std::prev(next);
    const uintptr_t s = it->first, e = s + it->second.bytes;
    if (a + size <= e) {
      L.cache_start = start = s;
      L.cache_end = e;
      return L.cache = &it->second;
    }
    if (a < e + kGuard) {
      report(L, pc, "out-of-bounds access: " + thread_name(me, L) + " touches " + std::to_string(size) +
                        " bytes reaching " + std::to_string(a + size - e) + " bytes past the end of device allocation #" +
                        std::to_string(it->second.serial) + " (" + std::to_string(it->second.bytes) + " bytes)");
      return nullptr;
    }
  }
  if (next != g_regions.end() && a + size > next->first - kGuard && a < next->first) {
    report(L, pc, "out-of-bounds access: " + thread_name(me, L) + " touches " + std::to_string(size) + " bytes " +
                      std::to_string(next->first - a) + " bytes before the start of device allocation #" +
                      std::to_string(next->second.serial) + " (" + std::to_string(next->second.bytes) + " bytes)");
  }
  return nullptr;
}

uint32_t execution_count(Launch& L, size_t t, uintptr_t pc) {
  auto& seen = L.executed[t];
  for (auto& e : seen)
    if (e.first == pc) return ++e.second;
  seen.emplace_back(pc, 1u);
  return 1u;
}

// natural: the compiler took the access as aligned to its size (its type's alignment). A GPU traps such
// an access at an address that is not ("misaligned address"); a CPU lets it pass, so the check is here.
void access(uintptr_t a, size_t size, bool write, uintptr_t pc, bool natural) {
  Launch& L = *g_active;
  const size_t t = threadIdx.x + size_t(blockDim.x) * (threadIdx.y + size_t(blockDim.y) * threadIdx.z);
  const uint32_t me = uint32_t(L.block * L.threads + t + 1);
  uintptr_t start = 0;
  Region* r = region_of(L, a, size, pc, me, start);
  if (!r) return;
  if (natural && (a & (size - 1)))
    report(L, pc, "misaligned address: " + thread_name(me, L) + (write ? " writes " : " reads ") +
                      std::to_string(size) + " bytes at " + where(*r, start, a) + ", which a GPU requires " +
                      std::to_string(size) + "-byte aligned");
  for (size_t w = (a - start) / kGrain, last = (a - start + size - 1) / kGrain; w <= last; ++w) {
    Word& s = r->words[w];
    if (s.epoch != L.epoch) s.epoch = L.epoch, s.writer = 0, s.reader = 0;
    const uint32_t other = s.writer && s.writer != me ? s.writer : 0;
    if (write) {
      if (other)
        report(L, pc, "data race: " + thread_name(me, L) + " and " + thread_name(other, L) + " both write " +
                          where(*r, start, start + kGrain * w) + " in one launch");
      else if (s.reader && s.reader != me)
        report(L, pc, "data race: " + thread_name(me, L) + " writes " + where(*r, start, start + kGrain * w) + " that " +
                          (s.reader == kManyReaders ? std::string("other threads") : thread_name(s.reader, L)) +
                          " read in the same launch");
      s.writer = me;
      s.initialised = 1;
    } else {
      if (!s.initialised) {
        report(L, pc, "read of device memory nothing wrote: " + where(*r, start, start + kGrain * w) + " by " +
                          thread_name(me, L));
        s.initialised = 1;  // once per word
      }
      if (other)
        report(L, pc, "data race: " + thread_name(me, L) + " reads " + where(*r, start, start + kGrain * w) + " that " +
                          thread_name(other, L) + " wrote in the same launch");
      s.reader = s.reader == 0 || s.reader == me ? me : kManyReaders;
    }
  }
  const uint32_t k = execution_count(L, t, pc);
  Counts& c = L.counts;
  (write ? c.stores : c.loads) += 1;
  (write ? c.store_bytes : c.load_bytes) += size;
  auto& epochs = write ? r->write_epoch : r->read_epoch;
  for (uintptr_t sec = a >> 5; sec <= (a + size - 1) >> 5; ++sec) {
    L.accesses.push_back(Access{uint32_t(t / 32), k, r->serial, pc, sec, write});
    uint32_t& e = epochs[((sec << 5) - start) >> 5];
    if (e != L.epoch) {
      e = L.epoch;
      (write ? c.footprint_write_sectors : c.footprint_read_sectors) += 1;
    }
  }
}

void add(Counts& into, const Counts& c) {
  into.launches += c.launches;
  into.threads += c.threads;
  into.loads += c.loads;
  into.stores += c.stores;
  into.load_bytes += c.load_bytes;
  into.store_bytes += c.store_bytes;
  into.load_requests += c.load_requests;
  into.store_requests += c.store_requests;
  into.load_sectors += c.load_sectors;
  into.block_load_sectors += c.block_load_sectors;
  into.store_sectors += c.store_sectors;
  into.footprint_read_sectors += c.footprint_read_sectors;
  into.footprint_write_sectors += c.footprint_write_sectors;
  for (const auto& [k, v] : c.sectors_by_allocation) into.sectors_by_allocation[k] += v;
}

}  // namespace

bool enabled() {
  static const bool on = [] {
    const char* v = std::getenv("HEMOTWIN_EMULATION_CHECK");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  return on;
}

void on_alloc(const void* p, size_t bytes) {
  if (!enabled()) return;
  Region& r = g_regions[reinterpret_cast<uintptr_t>(p)];
  r.bytes = bytes;
  r.serial = ++g_serial;
  g_allocation_bytes[r.serial] = bytes;
  r.words.assign((bytes + kGrain - 1) / kGrain, Word{});
  r.read_epoch.assign((bytes + 31) / 32 + 1, 0);
  r.write_epoch.assign((bytes + 31) / 32 + 1, 0);
}

void on_free(const void* p) {
  if (enabled()) g_regions.erase(reinterpret_cast<uintptr_t>(p));
}

void on_fill(const void* p, size_t bytes) {
  if (!enabled() || !bytes) return;
  auto it = g_regions.upper_bound(reinterpret_cast<uintptr_t>(p));
  if (it == g_regions.begin()) return;
  --it;
  const size_t first = (reinterpret_cast<uintptr_t>(p) - it->first) / kGrain;
  const size_t last = std::min(it->second.words.size(), (reinterpret_cast<uintptr_t>(p) - it->first + bytes + kGrain - 1) / kGrain);
  for (size_t w = first; w < last; ++w) it->second.words[w].initialised = 1;
}

void on_device_copy(const void* dst, const void* src, size_t bytes) {
  if (!enabled() || !bytes) return;
  // whole words only (the backend copies whole arrays); a partly uninitialised source counts as written
  on_fill(dst, bytes);
  (void)src;
}

void begin_launch(const LaunchSite& site) {
  Launch& L = g_launch;
  L.name = site.name;
  L.threads = size_t(site.block.x) * site.block.y * site.block.z;
  L.epoch = ++g_epoch;
  L.counts = Counts{};
  L.counts.launches = 1;
  L.counts.threads = L.threads * site.grid.x * site.grid.y * site.grid.z;
  L.errors = 0;
  L.first_error.clear();
  L.cache_start = 1, L.cache_end = 0, L.cache = nullptr;
  L.executed.resize(L.threads);
  g_active = &L;
}

void begin_block(size_t block_index) {
  Launch& L = g_launch;
  L.block = block_index;
  for (auto& e : L.executed) e.clear();
  L.accesses.clear();
}

void end_block() {
  Launch& L = g_launch;
  std::sort(L.accesses.begin(), L.accesses.end());
  for (size_t i = 0; i < L.accesses.size(); ++i) {
    const Access& a = L.accesses[i];
    const bool new_request = i == 0 || !a.same_request(L.accesses[i - 1]);
    const bool new_sector = new_request || a.sector != L.accesses[i - 1].sector;
    if (new_request) (a.write ? L.counts.store_requests : L.counts.load_requests) += 1;
    if (new_sector) {
      (a.write ? L.counts.store_sectors : L.counts.load_sectors) += 1;
      L.counts.sectors_by_allocation[a.allocation] += 1;
    }
  }
  std::vector<uintptr_t>& loaded = L.block_sectors;
  loaded.clear();
  for (const Access& a : L.accesses)
    if (!a.write) loaded.push_back(a.sector);
  std::sort(loaded.begin(), loaded.end());
  L.counts.block_load_sectors += uint64_t(std::unique(loaded.begin(), loaded.end()) - loaded.begin());
  L.accesses.clear();
}

std::string end_launch() {
  Launch& L = g_launch;
  g_active = nullptr;
  add(g_counts[L.name], L.counts);
  g_errors += L.errors;
  if (!L.errors) return std::string();
  return L.first_error + (L.errors > 1 ? " (and " + std::to_string(L.errors - 1) + " more)" : std::string());
}

std::string report_json(bool reset) {
  std::string s = "{\"checking\": " + std::string(enabled() ? "true" : "false") +
                  ", \"errors\": " + std::to_string(g_errors) + ", \"kernels\": {";
  bool first = true;
  for (const auto& [name, c] : g_counts) {
    std::string n;
    for (char ch : name) n += ch == '"' || ch == '\\' ? std::string("\\") + ch : std::string(1, ch);
    s += std::string(first ? "" : ", ") + "\"" + n + "\": {";
    const std::pair<const char*, uint64_t> fields[] = {
        {"launches", c.launches}, {"threads", c.threads}, {"loads", c.loads}, {"stores", c.stores},
        {"load_bytes", c.load_bytes}, {"store_bytes", c.store_bytes}, {"load_requests", c.load_requests},
        {"store_requests", c.store_requests}, {"load_sectors", c.load_sectors}, {"store_sectors", c.store_sectors},
        {"block_load_sectors", c.block_load_sectors},
        {"footprint_read_sectors", c.footprint_read_sectors}, {"footprint_write_sectors", c.footprint_write_sectors}};
    for (size_t i = 0; i < std::size(fields); ++i)
      s += std::string(i ? ", " : "") + "\"" + fields[i].first + "\": " + std::to_string(fields[i].second);
    s += ", \"sectors_by_allocation\": {";
    bool first_alloc = true;
    for (const auto& [serial, sectors] : c.sectors_by_allocation) {
      s += std::string(first_alloc ? "" : ", ") + "\"#" + std::to_string(serial) + " (" +
           std::to_string(g_allocation_bytes[serial]) + " bytes)\": " + std::to_string(sectors);
      first_alloc = false;
    }
    s += "}}";
    first = false;
  }
  s += "}}";
  if (reset) g_counts.clear(), g_errors = 0;
  return s;
}

}  // namespace hemotwin_emu::memcheck

// ---------------------------------------------------------------- the instrumentation's entry points
// gcc -fsanitize=thread calls these around every load and store it cannot prove private. Outside a
// checked launch they return at once.
using hemotwin_emu::memcheck::g_active;
#define HT_PC reinterpret_cast<uintptr_t>(__builtin_return_address(0))
// the plain and volatile entry points are the accesses the compiler takes as naturally aligned;
// gcc calls the "unaligned" ones where it cannot assume that (nvcc would split such an access)
#define HT_ACCESS_AS(name, size, write, natural) \
  extern "C" void name(void* p) {                 \
    if (g_active) hemotwin_emu::memcheck::access(reinterpret_cast<uintptr_t>(p), size, write, HT_PC, natural); \
  }
#define HT_ACCESS(name, size, write) HT_ACCESS_AS(name, size, write, true)
HT_ACCESS(__tsan_read1, 1, false)
HT_ACCESS(__tsan_read2, 2, false)
HT_ACCESS(__tsan_read4, 4, false)
HT_ACCESS(__tsan_read8, 8, false)
HT_ACCESS(__tsan_read16, 16, false)
HT_ACCESS(__tsan_write1, 1, true)
HT_ACCESS(__tsan_write2, 2, true)
HT_ACCESS(__tsan_write4, 4, true)
HT_ACCESS(__tsan_write8, 8, true)
HT_ACCESS(__tsan_write16, 16, true)
HT_ACCESS_AS(__tsan_unaligned_read2, 2, false, false)
HT_ACCESS_AS(__tsan_unaligned_read4, 4, false, false)
HT_ACCESS_AS(__tsan_unaligned_read8, 8, false, false)
HT_ACCESS_AS(__tsan_unaligned_read16, 16, false, false)
HT_ACCESS_AS(__tsan_unaligned_write2, 2, true, false)
HT_ACCESS_AS(__tsan_unaligned_write4, 4, true, false)
HT_ACCESS_AS(__tsan_unaligned_write8, 8, true, false)
HT_ACCESS_AS(__tsan_unaligned_write16, 16, true, false)
HT_ACCESS(__tsan_volatile_read1, 1, false)
HT_ACCESS(__tsan_volatile_read2, 2, false)
HT_ACCESS(__tsan_volatile_read4, 4, false)
HT_ACCESS(__tsan_volatile_read8, 8, false)
HT_ACCESS(__tsan_volatile_read16, 16, false)
HT_ACCESS(__tsan_volatile_write1, 1, true)
HT_ACCESS(__tsan_volatile_write2, 2, true)
HT_ACCESS(__tsan_volatile_write4, 4, true)
HT_ACCESS(__tsan_volatile_write8, 8, true)
HT_ACCESS(__tsan_volatile_write16, 16, true)
#undef HT_ACCESS
#undef HT_ACCESS_AS
extern "C" void __tsan_read_range(void* p, size_t size) {
  if (g_active && size) hemotwin_emu::memcheck::access(reinterpret_cast<uintptr_t>(p), size, false, HT_PC, false);
}
extern "C" void __tsan_write_range(void* p, size_t size) {
  if (g_active && size) hemotwin_emu::memcheck::access(reinterpret_cast<uintptr_t>(p), size, true, HT_PC, false);
}
extern "C" void __tsan_init() {}
extern "C" void __tsan_func_entry(void*) {}
extern "C" void __tsan_func_exit() {}
extern "C" void __tsan_vptr_update(void**, void*) {}
extern "C" void __tsan_vptr_read(void**) {}
