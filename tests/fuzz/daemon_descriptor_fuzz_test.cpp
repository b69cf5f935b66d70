// SPDX-License-Identifier: MIT
// Fuzzes a real daemon with mutated descriptor batches: a hostile session
// (cwd and root a temporary directory, so its paths stay inside it) publishes
// chains of valid-then-mutated descriptors of every opcode, with mutated
// arena structures — sometimes rewritten while the daemon reads them — while a
// well-behaved client does IO beside it. Some rounds close the batch's handles
// while its ops hold them, or leave with the batch in flight.
//
// Asserts: the hostile ring is never corrupted, so each of its published
// descriptors gets exactly one completion (ops that could wait forever are
// cancelled after a while, and then must complete), every result is a value
// or a negative errno; the well-behaved client sees each of its ops complete
// exactly once and correctly; after the hostile session disconnects, the
// daemon answers ping and stats with its sessions and descriptors back at the
// baseline.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "descriptor_gen.hpp"
#include "live_fixture.hpp"
#include "ring_client.hpp"

namespace aiod::fuzz {
namespace {

std::string describe(const aiod_sqe& s) {
  std::ostringstream o;
  o << "{opcode " << int(s.opcode) << " flags " << int(s.flags) << " handle " << s.handle << " off " << s.off
    << " addr " << s.addr << " len " << s.len << " op_flags " << s.op_flags << " addr2 " << s.addr2 << " len2 "
    << s.len2 << " mode " << s.mode << " user_data " << s.user_data << "}";
  return o.str();
}

class DescriptorFuzz : public LiveFuzz {
 protected:
  // Registers a fresh set of descriptors for the hostile session; the
  // previous round's are unregistered first, so the table stays small.
  bool refresh_pool(RingClient& c, HandlePool& pool) {
    if (!pool.entries.empty()) {
      std::vector<std::uint32_t> old;
      for (const auto& e : pool.entries) old.push_back(e.handle);
      flatbuffers::FlatBufferBuilder b(128);
      const auto body = wire::CreateUnregisterHandlesDirect(b, &old);
      b.Finish(wire::CreateMessage(b, 7, wire::Body::UnregisterHandles, body.Union()), wire::MessageIdentifier());
      if (c.send_raw(wire::view(b)) < 0 || !c.receive(std::chrono::seconds(10))) return false;
      pool.foreign = old;  // closed handles: never valid again
    }
    int p[2], sv[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return false;
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) return false;
    const int fds[] = {::open((dir_ + "/pool-file").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600),
                       p[0],
                       p[1],
                       sv[0],
                       sv[1],
                       ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
                       ::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
    const HandleKind kinds[] = {HandleKind::file,   HandleKind::pipe_read, HandleKind::pipe_write, HandleKind::socket,
                                HandleKind::socket, HandleKind::eventfd,   HandleKind::directory};
    auto handles = c.register_fds(fds);
    for (int fd : fds) ::close(fd);
    if (!handles) return false;
    pool.entries.clear();
    for (std::size_t i = 0; i < handles->size(); ++i) pool.entries.push_back({(*handles)[i], kinds[i]});
    return true;
  }
};

TEST_F(DescriptorFuzz, MutatedBatchesBesideAWellBehavedClient) {
  start_honest_client();
  ASSERT_FALSE(HasFailure());
  std::string err;
  auto hostile = RingClient::connect(daemon_.socket_path(), {.sq_entries = 64, .directory = dir_}, err);
  ASSERT_TRUE(hostile) << err;
  const Params p = params(0xa10d0010, 400);
  const auto stop_at = budget(std::chrono::seconds(10));
  HandlePool pool;
  std::uint64_t next_ud = 1, descriptors = 0, cancelled = 0, rounds = 0, vanished = 0;
  std::vector<std::uint64_t> recent;
  run(p, [&](Rng& rng, std::uint64_t) {
    if (std::chrono::steady_clock::now() > stop_at) return;
    ++rounds;
    ASSERT_TRUE(refresh_pool(*hostile, pool)) << "RegisterFds failed: the session is gone";
    const auto n = static_cast<std::uint32_t>(1 + rng.below(48));
    // CANCELs in the batch name finished ops, ops of the same batch (ahead,
    // behind, in their own chain) and themselves.
    std::vector<std::uint64_t> targets = recent;
    for (std::uint32_t i = 0; i < n; ++i) targets.push_back(next_ud + i);
    GenOptions opt{.live = true, .cancel_targets = targets};
    const std::span<std::byte> arena = hostile->arena();
    write_arena(rng, arena, opt);
    if (rng.chance(1, 2)) mutate_arena(rng, arena, pool, opt);
    const std::vector<aiod_sqe> batch = random_batch(rng, n, next_ud, arena.size(), pool, opt, 3);
    next_ud += n;
    std::map<std::uint64_t, const aiod_sqe*> pending;
    for (const aiod_sqe& s : batch) pending[s.user_data] = &s;
    ASSERT_GE(hostile->sq_room(), n);
    hostile->submit(batch);
    // The client may rewrite what the daemon is reading: only the daemon's
    // copies count.
    if (rng.chance(1, 4)) mutate_arena(rng, arena, pool, opt);
    descriptors += n;
    if (rng.chance(1, 16)) {
      // Leaves with the batch in flight: everything must be cancelled and
      // reaped (checked at the end, by the baseline); a new session goes on.
      ++vanished;
      hostile = RingClient::connect(daemon_.socket_path(), {.sq_entries = 64, .directory = dir_}, err);
      ASSERT_TRUE(hostile) << err;
      pool.entries.clear();
      return;
    }
    if (rng.chance(1, 6)) {
      // Closes the batch's handles while its ops hold them: the descriptors
      // must stay open until those ops complete, and nothing else changes.
      std::vector<std::uint32_t> handles;
      for (const auto& e : pool.entries) handles.push_back(e.handle);
      flatbuffers::FlatBufferBuilder b(128);
      const auto body = wire::CreateUnregisterHandlesDirect(b, &handles);
      b.Finish(wire::CreateMessage(b, 8, wire::Body::UnregisterHandles, body.Union()), wire::MessageIdentifier());
      ASSERT_EQ(hostile->send_raw(wire::view(b)), 0);
      ASSERT_TRUE(hostile->receive(std::chrono::seconds(10))) << "no reply to UnregisterHandles";
    }

    std::map<std::uint64_t, std::uint64_t> cancels;       // our CANCELs' user_data -> target
    std::map<std::uint64_t, std::string> cancel_results;  // target -> what its CANCELs returned
    auto collect = [&](std::chrono::steady_clock::time_point deadline) {
      while (!pending.empty() && std::chrono::steady_clock::now() < deadline) {
        for (const aiod_cqe& e : hostile->reap()) {
          if (auto it = cancels.find(e.user_data); it != cancels.end()) {
            cancel_results[it->second] += " " + std::to_string(e.res);
            cancels.erase(it);
            continue;
          }
          EXPECT_GT(e.res, -4096) << "result " << e.res << " is neither a value nor -errno";
          ASSERT_EQ(pending.erase(e.user_data), 1u)
              << "completion for user_data " << e.user_data << ": unknown or a second one";
        }
        if (!pending.empty()) hostile->wait_for_completions(deadline);
      }
    };
    collect(std::chrono::steady_clock::now() + std::chrono::milliseconds(150));
    if (!pending.empty()) {
      // Ops that wait for an event nobody sends (a poll, a long timer, a
      // chain behind one): cancel them, after which they must complete.
      // A CANCEL that meets its op between two states may find nothing to
      // stop (-ENOENT, -EALREADY); a second one, later, must.
      for (int attempt = 0; attempt < 2 && !pending.empty(); ++attempt) {
        std::vector<aiod_sqe> cancel;
        for (const auto& [ud, s] : pending) {
          cancel.push_back(aiod_sqe{.opcode = AIOD_OP_CANCEL, .off = ud, .user_data = next_ud});
          cancels[next_ud++] = ud;
        }
        cancelled += cancel.size();
        ASSERT_GE(hostile->sq_room(), cancel.size());
        hostile->submit(cancel);
        collect(std::chrono::steady_clock::now() + std::chrono::seconds(attempt == 0 ? 3 : 10));
        if (attempt == 0 && !pending.empty()) {
          std::cout << pending.size()
                    << " ops outlived their first CANCEL (first: " << describe(*pending.begin()->second)
                    << ", CANCEL returned" << cancel_results[pending.begin()->first] << ")\n";
        }
      }
    }
    for (const auto& [ud, s] : pending) {
      ADD_FAILURE() << "no completion for " << describe(*s) << "; its CANCELs returned" << cancel_results[ud];
    }
    // Drain the CANCELs' own completions.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!cancels.empty() && std::chrono::steady_clock::now() < deadline) {
      for (const aiod_cqe& e : hostile->reap()) {
        EXPECT_EQ(cancels.erase(e.user_data), 1u) << "unexpected completion " << e.user_data;
      }
      if (!cancels.empty()) hostile->wait_for_completions(deadline);
    }
    EXPECT_TRUE(cancels.empty()) << cancels.size() << " CANCELs never completed";
    recent.assign(1, next_ud - 1);
    for (const aiod_sqe& s : batch) {
      if (recent.size() < 4) recent.push_back(s.user_data);
    }
  });
  RecordProperty("rounds", static_cast<int>(rounds));
  RecordProperty("descriptors", static_cast<int>(descriptors));
  RecordProperty("cancelled_after_wait", static_cast<int>(cancelled));
  std::cout << "descriptor fuzz: " << rounds << " rounds, " << descriptors << " descriptors, " << cancelled
            << " cancelled after waiting, " << vanished << " sessions left with their batch in flight\n";
  hostile.reset();
  expect_back_to_baseline();
  stop_honest_client();
}

}  // namespace
}  // namespace aiod::fuzz
