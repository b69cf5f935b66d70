// SPDX-License-Identifier: MIT
// fuzz_support.hpp — what every fuzz test shares: a seeded generator, the
// seed and iteration count (overridable from the environment, so a failure can
// be replayed exactly), boundary values, and the loop that reports which
// iteration failed.
//
// Each iteration draws from its own generator, derived from (seed, iteration),
// so iteration i behaves the same whatever ran before it: a failure at
// iteration i replays with AIOD_FUZZ_SEED=<seed> AIOD_FUZZ_FIRST=<i>
// AIOD_FUZZ_ITERATIONS=1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace aiod::fuzz {

// xoshiro256** seeded through splitmix64: fast, and the same on every host.
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  // Uniform in [0, n); n > 0.
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  // True with probability num/den.
  bool chance(std::uint64_t num, std::uint64_t den) { return below(den) < num; }
  template <typename T>
  const T& pick(std::span<const T> items) {
    return items[below(items.size())];
  }
  void fill(std::span<std::byte> out);

 private:
  std::uint64_t s_[4];
};

// A value an off-by-one or an overflow would trip on, relative to `limit`
// (an arena or ring size): 0, 1, -1, max, max-1, limit-1, limit, limit+1,
// powers of two and their neighbours, or a random value.
std::uint64_t boundary64(Rng& rng, std::uint64_t limit);
std::uint32_t boundary32(Rng& rng, std::uint32_t limit);

struct Params {
  std::uint64_t seed = 0;
  std::uint64_t first = 0;       // first iteration run
  std::uint64_t iterations = 0;  // how many run
};

// AIOD_FUZZ_SEED, AIOD_FUZZ_FIRST and AIOD_FUZZ_ITERATIONS (decimal or 0x hex)
// override the defaults.
Params params(std::uint64_t default_seed, std::uint64_t default_iterations);

// The text that replays one iteration.
std::string replay_hint(const Params& p, std::uint64_t iteration);

// Runs body(rng, iteration) for each iteration with that iteration's own
// generator. Stops at the first iteration that records a test failure and adds
// a failure naming the seed and the iteration. Returns the iterations run.
std::uint64_t run(const Params& p, const std::function<void(Rng&, std::uint64_t)>& body);

}  // namespace aiod::fuzz
