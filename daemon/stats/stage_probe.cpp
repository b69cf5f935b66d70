// SPDX-License-Identifier: MIT
// stage_probe.cpp — the stamps, kept per shard thread (see stage_probe.hpp).
#include "stats/stage_probe.hpp"

#ifdef AIOD_STAGE_TIMING
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "aiod_shm.h"
#include "os/timespec.hpp"

namespace aiod::daemon::stage_probe {
namespace {

constexpr unsigned kStages = static_cast<unsigned>(Stage::publishing) + 1;
using Stamps = std::array<std::uint64_t, kStages>;

struct Probe {
  Stamps current{};
  unsigned next = 0;  // the stage expected next; 0: waiting for a READ to be noticed
  std::vector<Stamps> done;
};
thread_local Probe t_probe;

}  // namespace

void mark(Stage stage, std::uint8_t opcode) {
  Probe& p = t_probe;
  const auto s = static_cast<unsigned>(stage);
  // Only a READ starts a record; later stages are whatever comes next on the
  // shard (one READ in flight: it is the one).
  if (s == 0 && opcode != AIOD_OP_READ) return;
  if (s != p.next) return;
  if (s == static_cast<unsigned>(Stage::reaped) && opcode != AIOD_OP_READ) return;
  p.current[s] = monotonic_ns();
  p.next = s + 1;
  if (p.next == kStages) {
    p.done.push_back(p.current);
    p.next = 0;
  }
}

void flush(unsigned shard) {
  const char* base = std::getenv("AIOD_STAGE_TIMING_FILE");
  if (base == nullptr) return;
  const std::string path = std::string(base) + "." + std::to_string(shard);
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return;
  for (const Stamps& s : t_probe.done) {
    std::fprintf(f, "%llu %llu %llu %llu %llu\n", static_cast<unsigned long long>(s[0]),
                 static_cast<unsigned long long>(s[1]), static_cast<unsigned long long>(s[2]),
                 static_cast<unsigned long long>(s[3]), static_cast<unsigned long long>(s[4]));
  }
  std::fclose(f);
}

}  // namespace aiod::daemon::stage_probe
#endif
