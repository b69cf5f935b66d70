// SPDX-License-Identifier: MIT
#include "honest_client.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <sstream>

#include "ring_client.hpp"

namespace aiod::fuzz {
namespace {

constexpr std::uint32_t kPayload = 4096;
constexpr std::uint64_t kWriteAt = 0;
constexpr std::uint64_t kReadAt = 8192;
constexpr auto kOpTimeout = std::chrono::seconds(10);

}  // namespace

HonestClient::HonestClient(std::string socket_path) : socket_path_(std::move(socket_path)) {
  thread_ = std::thread([this] { run(); });
}

HonestClient::~HonestClient() { stop(); }

void HonestClient::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string HonestClient::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void HonestClient::fail(const std::string& what) {
  std::lock_guard lock(mu_);
  if (error_.empty()) error_ = what;
  stop_ = true;
}

void HonestClient::run() {
  std::string err;
  auto c = RingClient::connect(socket_path_, RingClient::Options{.sq_entries = 32, .arena_bytes = 64 * 1024}, err);
  if (!c) return fail("honest client: " + err);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return fail("pipe2 failed");
  const int fds[] = {p[0], p[1]};
  const auto handles = c->register_fds(fds);
  ::close(p[0]);
  ::close(p[1]);
  if (!handles) return fail("honest client: RegisterFds failed");
  const std::uint32_t rd = (*handles)[0], wr = (*handles)[1];
  std::byte* arena = c->arena().data();
  std::uint64_t ud = 1;

  // Submits `sqes` and waits for exactly their completions; returns results by user_data.
  auto run_batch = [&](std::vector<aiod_sqe> sqes, std::map<std::uint64_t, std::int32_t>& results) -> bool {
    for (aiod_sqe& s : sqes) s.user_data = ud++;
    c->submit(sqes);
    std::map<std::uint64_t, bool> pending;
    for (const aiod_sqe& s : sqes) pending[s.user_data] = true;
    const auto deadline = std::chrono::steady_clock::now() + kOpTimeout;
    while (!pending.empty()) {
      for (const aiod_cqe& e : c->reap()) {
        if (pending.erase(e.user_data) == 0) {
          std::ostringstream s;
          s << "honest client: completion for user_data " << e.user_data
            << (results.count(e.user_data) ? " twice" : " it never submitted");
          fail(s.str());
          return false;
        }
        results[e.user_data] = e.res;
        ops_++;
      }
      if (pending.empty()) break;
      if (std::chrono::steady_clock::now() > deadline) {
        std::ostringstream s;
        s << "honest client: " << pending.size() << " ops without a completion after 10 s (first user_data "
          << pending.begin()->first << ")";
        fail(s.str());
        return false;
      }
      c->wait_for_completions(deadline);
    }
    return true;
  };

  std::uint8_t pattern = 1;
  while (!stop_) {
    std::memset(arena + kWriteAt, pattern, kPayload);
    std::memset(arena + kReadAt, 0, kPayload);
    std::map<std::uint64_t, std::int32_t> res;
    const std::uint64_t first = ud;
    if (!run_batch(
            {aiod_sqe{
                 .opcode = AIOD_OP_WRITE, .handle = wr, .off = AIOD_OFFSET_CURRENT, .addr = kWriteAt, .len = kPayload},
             aiod_sqe{.opcode = AIOD_OP_NOP}, aiod_sqe{.opcode = AIOD_OP_NOP}},
            res)) {
      return;
    }
    if (res[first] != static_cast<std::int32_t>(kPayload) || res[first + 1] != 0 || res[first + 2] != 0) {
      std::ostringstream s;
      s << "honest client: write/nop results " << res[first] << " " << res[first + 1] << " " << res[first + 2];
      return fail(s.str());
    }
    res.clear();
    const std::uint64_t read_ud = ud;
    if (!run_batch(
            {aiod_sqe{
                .opcode = AIOD_OP_READ, .handle = rd, .off = AIOD_OFFSET_CURRENT, .addr = kReadAt, .len = kPayload}},
            res)) {
      return;
    }
    if (res[read_ud] != static_cast<std::int32_t>(kPayload)) {
      return fail("honest client: read returned " + std::to_string(res[read_ud]));
    }
    for (std::uint32_t i = 0; i < kPayload; ++i) {
      if (arena[kReadAt + i] != std::byte{pattern}) return fail("honest client: read back different data");
    }
    pattern = static_cast<std::uint8_t>(pattern == 255 ? 1 : pattern + 1);
    rounds_++;
  }
}

}  // namespace aiod::fuzz
