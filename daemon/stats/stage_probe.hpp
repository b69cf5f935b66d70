// SPDX-License-Identifier: MIT
// stage_probe.hpp — where one read's time goes inside a shard: timestamps of
// each stage of a READ's way through the daemon, for the per-stage breakdown
// in docs/benchmarks.md ("Where a QD1 read's time goes").
//
// Compiled in only with -DAIOD_STAGE_TIMING=ON (a CMake option; never in a
// shipped build): otherwise every call below is an empty inline function.
// The stamps are meaningful with one READ in flight at a time on the shard,
// which is what bench_stages runs; with more, stages overlap and the probe
// follows the first READ it sees until it is published.
//
// Each stamp is CLOCK_MONOTONIC, the clock the client uses too, so the
// client's own stamps (before it publishes, after it sees the completion)
// line up with these. At shard exit the stamps are written, one line per READ,
// to the file named by AIOD_STAGE_TIMING_FILE (appending its shard index).
#pragma once

#include <cstdint>

namespace aiod::daemon::stage_probe {

enum class Stage : unsigned {
  noticed,    // the shard copied the descriptor out of the client's ring
  prepared,   // validated, and its SQE written (not yet submitted)
  submitted,  // io_uring_enter returned (an inline read has run by now)
  reaped,     // its completion taken off the backend
  publishing,  // its completion written, about to be made visible to the client
};

#ifdef AIOD_STAGE_TIMING
void mark(Stage stage, std::uint8_t opcode);
// Writes the shard's stamps (see above).
void flush(unsigned shard);
#else
inline void mark(Stage, std::uint8_t) {}
inline void flush(unsigned) {}
#endif

}  // namespace aiod::daemon::stage_probe
