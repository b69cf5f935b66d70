// SPDX-License-Identifier: MIT
#include "fuzz_support.hpp"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include <gtest/gtest.h>

namespace aiod::fuzz {
namespace {

std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 0);
}

}  // namespace

Rng::Rng(std::uint64_t seed) {
  for (auto& s : s_) s = splitmix(seed);
}

std::uint64_t Rng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

void Rng::fill(std::span<std::byte> out) {
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t v = next();
    const std::size_t n = std::min(out.size() - i, sizeof(v));
    std::memcpy(out.data() + i, &v, n);
    i += n;
  }
}

std::uint64_t boundary64(Rng& rng, std::uint64_t limit) {
  switch (rng.below(14)) {
    case 0:
      return 0;
    case 1:
      return 1;
    case 2:
      return ~std::uint64_t{0};
    case 3:
      return ~std::uint64_t{0} - 1;
    case 4:
      return limit - 1;
    case 5:
      return limit;
    case 6:
      return limit + 1;
    case 7:
      return std::uint64_t{1} << rng.below(64);
    case 8:
      return (std::uint64_t{1} << rng.below(64)) - 1;
    case 9:
      return std::uint64_t{0x7fffffff} + rng.below(3);
    case 10:
      return std::uint64_t{0xffffffff} + rng.below(3) - 1;
    case 11:
      return limit - rng.below(64);
    case 12:
      return rng.below(limit + 1);
    default:
      return rng.next();
  }
}

std::uint32_t boundary32(Rng& rng, std::uint32_t limit) { return static_cast<std::uint32_t>(boundary64(rng, limit)); }

Params params(std::uint64_t default_seed, std::uint64_t default_iterations) {
  Params p;
  p.seed = env_or("AIOD_FUZZ_SEED", default_seed);
  p.first = env_or("AIOD_FUZZ_FIRST", 0);
  p.iterations = env_or("AIOD_FUZZ_ITERATIONS", default_iterations);
  return p;
}

std::string replay_hint(const Params& p, std::uint64_t iteration) {
  std::ostringstream s;
  s << "fuzz seed 0x" << std::hex << p.seed << std::dec << ", iteration " << iteration << "; replay: AIOD_FUZZ_SEED=0x"
    << std::hex << p.seed << std::dec << " AIOD_FUZZ_FIRST=" << iteration << " AIOD_FUZZ_ITERATIONS=1";
  return s.str();
}

std::uint64_t run(const Params& p, const std::function<void(Rng&, std::uint64_t)>& body) {
  std::uint64_t done = 0;
  for (std::uint64_t i = p.first; i < p.first + p.iterations; ++i) {
    std::uint64_t mix = p.seed ^ (i * 0xd1b54a32d192ed03ull);
    Rng rng(splitmix(mix));
    body(rng, i);
    ++done;
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << replay_hint(p, i);
      break;
    }
  }
  return done;
}

}  // namespace aiod::fuzz
