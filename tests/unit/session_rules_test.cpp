// SPDX-License-Identifier: MIT
// Unit tests of a session's rules for chains, links, link timeouts and
// cancellation, with no kernel ring: a real Session runs on a shard stand-in
// (MemoryShard) whose backend executes ops in memory, and a RawSession client
// in the same thread speaks the protocol to it over a socketpair — a real
// handshake, then descriptors written straight into the submission ring and
// completions read from the completion ring.
//
// Deterministic: the test runs the shard's loop itself, turn by turn, until
// nothing more happens, and moves the backend's virtual clock by hand; no
// sleeps, and a loop that never settles fails the test.
//
// What must hold (docs/architecture.md, "From descriptor to completion"):
// exactly one completion per descriptor; a soft link's failure (a short
// transfer included) cancels the rest of the chain, a hard link goes on; a
// link timeout and its op: whichever finishes first cancels the other; CANCEL
// reaches an op in the backend, an op waiting for its turn in a chain, and
// says -ENOENT for an unknown user_data; an invalid descriptor fails its
// chain before anything runs.
#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aiod_shm.h"
#include "control_message.hpp"
#include "memory_backend.hpp"
#include "os/peer_creds.hpp"
#include "raw_session.hpp"
#include "session/session.hpp"

namespace aiod::daemon {
namespace {
using test::MemoryBackend;
using test::RawSession;
using namespace std::chrono_literals;

// What Shard gives a session, minus threads, locks, stats and sleeping: the
// loop is run by the test (turn()). Also the daemon-wide services.
class MemoryShard final : public SessionHost, public DaemonServices {
 public:
  MemoryBackend memory;

  // One turn of Shard::loop(): ready tasks, backend, publication, parked
  // sessions. Returns whether anything happened.
  bool turn() {
    bool worked = sched_.run_ready() > 0;
    memory.flush();
    worked |= memory.drain() > 0;
    for (Session* s : std::exchange(dirty_, {})) s->publish_completions();
    for (Session* s : std::vector<Session*>(parked_)) {
      if (s->ready_to_drain()) {
        unpark(*s);
        worked = true;
      }
    }
    return worked || sched_.has_ready();
  }
  // Runs turns until one does nothing; false if that never happens.
  [[nodiscard]] bool settle() {
    for (int i = 0; i < 1000; ++i) {
      if (!turn()) return true;
    }
    return false;
  }
  void forget(Session& s) {
    std::erase(parked_, &s);
    std::erase(dirty_, &s);
  }

  // --- DaemonServices ---
  [[nodiscard]] StatsSnapshot collect_stats(bool, uid_t) const override { return {}; }
  [[nodiscard]] const PeerCreds& identity() const noexcept override { return identity_; }
  [[nodiscard]] std::string_view backend_name() const noexcept override { return "memory"; }
  [[nodiscard]] UidShares& shares() noexcept override { return shares_; }
  void session_ended(std::uint64_t) override {}

  // --- SessionHost ---
  [[nodiscard]] DaemonServices& daemon() noexcept override { return *this; }
  [[nodiscard]] const Config& config() const noexcept override { return config_; }
  [[nodiscard]] Backend& backend() noexcept override { return memory; }
  [[nodiscard]] Scheduler& scheduler() noexcept override { return sched_; }
  [[nodiscard]] bool stopping() const noexcept override { return false; }
  [[nodiscard]] std::uint64_t turn_ns() override { return 0; }
  [[nodiscard]] std::uint32_t cpu() override { return 0; }
  void park(Session& s, std::coroutine_handle<> pump) override {
    s.parked_pump = pump;
    parked_.push_back(&s);
  }
  void unpark(Session& s) override {
    std::erase(parked_, &s);
    s.rings().set_need_wakeup(false);
    if (auto h = std::exchange(s.parked_pump, {})) sched_.schedule(h);
  }
  void mark_dirty(Session& s) override { dirty_.push_back(&s); }
  int acquire_personality(const PeerCreds&) override { return memory.register_personality(); }
  void release_personality(std::uint16_t) override {}

 private:
  Scheduler sched_;
  Config config_;
  UidShares shares_;
  PeerCreds identity_ = own_creds();
  std::vector<Session*> parked_;
  std::vector<Session*> dirty_;
};

// Shard::run_session, on the stand-in; `ended` is set once the session is gone.
DetachedTask run_session(MemoryShard& shard, UniqueFd sock, bool& ended) {
  auto session = std::make_unique<Session>(shard, std::move(sock), 1);
  if (co_await session->handshake() == 0) co_await session->serve_control();
  co_await session->shutdown();
  shard.forget(*session);
  ended = true;
}

class SessionRules : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    client_.emplace(UniqueFd(sv[0]), 64);
    run_session(shard_, UniqueFd(sv[1]), ended_);
    ASSERT_TRUE(shard_.settle()) << "the handshake never settles";
    ASSERT_TRUE(client_->finish_handshake()) << client_->error();
    shard_.memory.add_file("file", "abcdef");
    shard_.memory.add_pipe("pipe");
    file_ = open("file");
    pipe_ = open("pipe");
  }

  void TearDown() override {
    // The client leaves: the session cancels what it holds and ends.
    client_.reset();
    ASSERT_TRUE(shard_.settle()) << "the session's shutdown never settles";
    ASSERT_TRUE(ended_) << "the session did not end";
    EXPECT_EQ(shard_.memory.pending(), 0u);
  }

  // --- descriptors ---
  static aiod_sqe sqe(std::uint8_t opcode, std::uint64_t user_data, std::uint8_t flags = 0) {
    aiod_sqe s{};
    s.opcode = opcode;
    s.user_data = user_data;
    s.flags = flags;
    return s;
  }
  // Room for `n` bytes in the arena; returns its offset.
  std::uint64_t arena_alloc(std::size_t n) {
    const std::uint64_t at = next_;
    next_ += (n + 63) / 64 * 64;
    EXPECT_LE(next_, client_->arena_size());
    return at;
  }
  std::uint64_t arena_put(std::string_view bytes) {
    const std::uint64_t at = arena_alloc(bytes.size());
    std::memcpy(client_->arena() + at, bytes.data(), bytes.size());
    return at;
  }
  std::string arena_get(std::uint64_t at, std::size_t n) const {
    return {reinterpret_cast<const char*>(client_->arena() + at), n};
  }
  aiod_sqe read(std::uint32_t handle, std::uint64_t user_data, std::uint64_t buf, std::uint32_t len, std::uint64_t off,
                std::uint8_t flags = 0) {
    aiod_sqe s = sqe(AIOD_OP_READ, user_data, flags);
    s.handle = handle;
    s.addr = buf;
    s.len = len;
    s.off = off;
    return s;
  }
  aiod_sqe write(std::uint32_t handle, std::uint64_t user_data, std::string_view bytes, std::uint64_t off,
                 std::uint8_t flags = 0) {
    aiod_sqe s = sqe(AIOD_OP_WRITE, user_data, flags);
    s.handle = handle;
    s.addr = arena_put(bytes);
    s.len = static_cast<std::uint32_t>(bytes.size());
    s.off = off;
    return s;
  }
  static aiod_sqe with_off(aiod_sqe s, std::uint64_t off) {
    s.off = off;
    return s;
  }
  static aiod_sqe fsync(std::uint32_t handle, std::uint64_t user_data, std::uint8_t flags = 0) {
    aiod_sqe s = sqe(AIOD_OP_FSYNC, user_data, flags);
    s.handle = handle;
    return s;
  }

  // --- the client ---
  void submit(std::initializer_list<aiod_sqe> descs) {
    for (const aiod_sqe& d : descs) client_->push(d);
    client_->publish();
  }
  // Runs the daemon side until it settles and returns every completion that
  // arrived, by user_data; a user_data completed twice fails the test.
  std::map<std::uint64_t, int> reap() {
    EXPECT_TRUE(shard_.settle()) << "the shard's loop never settles";
    std::map<std::uint64_t, int> out;
    for (const aiod_cqe& c : client_->wait(1024, 0ms)) {
      EXPECT_TRUE(out.emplace(c.user_data, c.res).second) << "user_data " << c.user_data << " completed twice";
    }
    return out;
  }
  // Nothing more completes, however long one waits.
  void expect_no_more_completions() {
    shard_.memory.advance(1h);
    EXPECT_EQ(reap(), (std::map<std::uint64_t, int>{}));
  }
  std::uint32_t open(const char* path) {
    aiod_sqe s = sqe(AIOD_OP_OPEN_AT, 1000 + next_);
    s.handle = AIOD_HANDLE_CWD;
    s.addr = arena_put(path);
    s.len = static_cast<std::uint32_t>(std::strlen(path));
    s.op_flags = O_RDWR;
    const std::uint64_t user_data = s.user_data;
    submit({s});
    const auto done = reap();
    EXPECT_EQ(done.size(), 1u);
    const auto it = done.find(user_data);
    EXPECT_TRUE(it != done.end() && it->second > 0) << "cannot open " << path;
    return it != done.end() && it->second > 0 ? static_cast<std::uint32_t>(it->second) : 0;
  }

  using Results = std::map<std::uint64_t, int>;
  MemoryShard shard_;
  std::optional<RawSession> client_;
  bool ended_ = false;
  std::uint64_t next_ = 0;  // the arena's first free byte
  std::uint32_t file_ = 0, pipe_ = 0;
};

constexpr std::uint8_t kLink = AIOD_SQE_LINK;
constexpr std::uint8_t kHard = AIOD_SQE_HARDLINK;

// One wake-up write in flight is enough only while it has not landed: once
// the client has been woken by it, fed, and gone back to sleep, completions
// published before the daemon hears that the write is done still need a
// wake-up of their own. (A write done by a worker, or by io-wq, lands long
// before its completion reaches the shard.)
TEST_F(SessionRules, CompletionsPublishedWhileAWakeUpIsInFlightStillWakeTheClient) {
  client_->ask_to_be_woken();
  submit({sqe(AIOD_OP_NOP, 1)});
  shard_.memory.hold_results(true);  // the wake-up write lands; its completion waits
  ASSERT_TRUE(shard_.settle());
  ASSERT_EQ(client_->take_wakeups(), 1u) << "the first completion woke nobody";
  ASSERT_EQ(client_->wait(1, 0ms).size(), 1u);
  client_->ask_to_be_woken();  // fed, and asleep again
  submit({sqe(AIOD_OP_NOP, 2)});
  ASSERT_TRUE(shard_.settle());
  shard_.memory.hold_results(false);
  ASSERT_TRUE(shard_.settle());
  EXPECT_GE(client_->take_wakeups(), 1u) << "the second completion was published to a sleeping client, unannounced";
  EXPECT_EQ(client_->wait(1, 0ms).size(), 1u);
}

// A client that hangs up asking to be woken, with its completion eventfd
// held full: the ops its session cancels on the way out complete after the
// shutdown began, and a wake-up write for them would never end (nothing
// cancels it) and keep the session, its shares and the daemon's stop for
// ever. A closing session wakes nobody: the client learns from the hang-up.
TEST_F(SessionRules, ADeadClientsFullEventfdDoesNotKeepItsSession) {
  const std::uint64_t buf = arena_alloc(8);
  submit({read(pipe_, 1, buf, 8, 0)});  // waits for data that never comes
  ASSERT_TRUE(shard_.settle());
  client_->ask_to_be_woken_with_a_full_eventfd();
  // TearDown hangs up and requires the session to end.
}

TEST_F(SessionRules, AnUnlinkedBatchCompletesEveryOpOnce) {
  const std::uint64_t buf = arena_alloc(4);
  submit({sqe(AIOD_OP_NOP, 1), read(file_, 2, buf, 3, 1), write(file_, 3, "XY", 8), fsync(file_, 4), fsync(pipe_, 5)});
  EXPECT_EQ(reap(), (Results{{1, 0}, {2, 3}, {3, 2}, {4, 0}, {5, -EINVAL}}));
  EXPECT_EQ(arena_get(buf, 3), "bcd");
  EXPECT_EQ(shard_.memory.contents("file"), std::string("abcdef\0\0XY", 10));
  expect_no_more_completions();
}

TEST_F(SessionRules, ASoftLinkFailureCancelsTheRestOfTheChain) {
  submit({sqe(AIOD_OP_NOP, 1, kLink), fsync(pipe_, 2, kLink), write(file_, 3, "Z", 0, kLink), sqe(AIOD_OP_NOP, 4)});
  EXPECT_EQ(reap(), (Results{{1, 0}, {2, -EINVAL}, {3, -ECANCELED}, {4, -ECANCELED}}));
  EXPECT_EQ(shard_.memory.contents("file"), "abcdef");  // the write never ran
  expect_no_more_completions();
}

// A read of a file the daemon opened is marked to be tried at once; one
// waiting in a chain behind a pipe read is asked again when its turn comes,
// and by then its descriptor has been sent away (a client holding the
// description could have switched it to O_DIRECT): no longer marked.
TEST_F(SessionRules, AReadIsMarkedTryAtOnceOnlyIfItsFileIsStillTheDaemonsWhenItStarts) {
  const std::uint64_t buf = arena_alloc(8), pbuf = arena_alloc(8);
  auto marks = [&] { return shard_.memory.reads_marked_at_once(); };
  submit({read(file_, 1, buf, 3, 0)});
  EXPECT_EQ(reap(), (Results{{1, 3}}));
  ASSERT_EQ(marks(), std::vector<bool>{true});
  submit({read(pipe_, 2, pbuf, 1, 0, kHard), read(file_, 3, buf, 3, 0)});
  EXPECT_EQ(reap(), (Results{}));  // the pipe read waits; the file read waits behind it
  // SEND_MSG passing the file's handle: validated (which marks the handle
  // shared), then refused by this backend, which has no sockets.
  const std::uint64_t control = arena_alloc(64);
  {
    const std::vector<std::byte> bytes = aiod::test::handles_message({file_});
    std::memcpy(client_->arena() + control, bytes.data(), bytes.size());
    aiod_msghdr h{};
    h.control = control;
    h.control_len = bytes.size();
    aiod_sqe s = sqe(AIOD_OP_SEND_MSG, 4);
    s.handle = pipe_;
    s.addr = arena_alloc(sizeof(h));
    std::memcpy(client_->arena() + s.addr, &h, sizeof(h));
    s.len = sizeof(h);
    submit({s});
  }
  const Results sent = reap();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_LT(sent.at(4), 0);
  shard_.memory.feed("pipe", "x");
  EXPECT_EQ(reap(), (Results{{2, 1}, {3, 3}}));
  EXPECT_EQ(marks(), (std::vector<bool>{true, true, false}));  // the pipe is a memfd here
  expect_no_more_completions();
}

TEST_F(SessionRules, AShortReadBreaksASoftLink) {
  const std::uint64_t buf = arena_alloc(16);
  submit({read(file_, 1, buf, 16, 2, kLink), write(file_, 2, "Z", 0)});
  EXPECT_EQ(reap(), (Results{{1, 4}, {2, -ECANCELED}}));
  EXPECT_EQ(shard_.memory.contents("file"), "abcdef");
  expect_no_more_completions();
}

TEST_F(SessionRules, AHardLinkGoesOnAfterAFailure) {
  const std::uint64_t buf = arena_alloc(16);
  submit({fsync(pipe_, 1, kHard), read(file_, 2, buf, 16, 0, kHard), write(file_, 3, "Z", 0)});
  EXPECT_EQ(reap(), (Results{{1, -EINVAL}, {2, 6}, {3, 1}}));
  EXPECT_EQ(shard_.memory.contents("file"), "Zbcdef");
  expect_no_more_completions();
}

TEST_F(SessionRules, AnExpiredLinkTimeoutCancelsItsOpAndTheRest) {
  const std::uint64_t buf = arena_alloc(2);
  submit({read(pipe_, 1, buf, 2, AIOD_OFFSET_CURRENT, kLink), with_off(sqe(AIOD_OP_LINK_TIMEOUT, 2, kLink), 1'000'000),
          write(file_, 3, "Z", 0)});
  EXPECT_EQ(reap(), Results{});
  shard_.memory.advance(999us);
  EXPECT_EQ(reap(), Results{});
  shard_.memory.advance(1us);
  EXPECT_EQ(reap(), (Results{{1, -ECANCELED}, {2, -ETIME}, {3, -ECANCELED}}));
  EXPECT_EQ(shard_.memory.contents("file"), "abcdef");
  expect_no_more_completions();
}

TEST_F(SessionRules, AnExpiredLinkTimeoutEndsTheChainEvenThroughHardLinks) {
  const std::uint64_t buf = arena_alloc(2);
  submit({read(pipe_, 1, buf, 2, AIOD_OFFSET_CURRENT, kHard), with_off(sqe(AIOD_OP_LINK_TIMEOUT, 2, kHard), 1'000'000),
          write(file_, 3, "Z", 0)});
  EXPECT_EQ(reap(), Results{});  // the timer starts with its op
  shard_.memory.advance(1ms);
  EXPECT_EQ(reap(), (Results{{1, -ECANCELED}, {2, -ETIME}, {3, -ECANCELED}}));
  EXPECT_EQ(shard_.memory.contents("file"), "abcdef");
  expect_no_more_completions();
}

TEST_F(SessionRules, ALinkTimeoutThatLosesIsASuccessAndTheChainGoesOn) {
  const std::uint64_t buf = arena_alloc(2);
  submit({read(pipe_, 1, buf, 2, AIOD_OFFSET_CURRENT, kLink), with_off(sqe(AIOD_OP_LINK_TIMEOUT, 2, kLink), 1'000'000),
          write(file_, 3, "Z", 0)});
  EXPECT_EQ(reap(), Results{});
  shard_.memory.feed("pipe", "hi");
  // The backend reports the timer -ECANCELED; for the client, a link timeout
  // whose op finished first has succeeded (operations.md: 0, or -ETIME).
  EXPECT_EQ(reap(), (Results{{1, 2}, {2, 0}, {3, 1}}));
  EXPECT_EQ(arena_get(buf, 2), "hi");
  EXPECT_EQ(shard_.memory.contents("file"), "Zbcdef");
  expect_no_more_completions();
}

TEST_F(SessionRules, CancelReachesAnOpTheBackendHolds) {
  const std::uint64_t buf = arena_alloc(2);
  submit({read(pipe_, 1, buf, 2, AIOD_OFFSET_CURRENT)});
  EXPECT_EQ(reap(), Results{});
  submit({with_off(sqe(AIOD_OP_CANCEL, 2), 1)});
  EXPECT_EQ(reap(), (Results{{1, -ECANCELED}, {2, 0}}));
  shard_.memory.feed("pipe", "hi");  // too late: nothing reads it any more
  expect_no_more_completions();
  EXPECT_EQ(shard_.memory.contents("pipe"), "hi");
}

TEST_F(SessionRules, CancelReachesAnOpWaitingForItsTurnInAChain) {
  const std::uint64_t buf = arena_alloc(2);
  submit({read(pipe_, 1, buf, 2, AIOD_OFFSET_CURRENT, kHard), write(file_, 2, "Z", 0, kHard), sqe(AIOD_OP_NOP, 3)});
  EXPECT_EQ(reap(), Results{});
  submit({with_off(sqe(AIOD_OP_CANCEL, 4), 2)});
  EXPECT_EQ(reap(), (Results{{4, 0}}));
  shard_.memory.feed("pipe", "hi");
  // The write completes cancelled when its turn comes; through its hard link
  // the chain goes on.
  EXPECT_EQ(reap(), (Results{{1, 2}, {2, -ECANCELED}, {3, 0}}));
  EXPECT_EQ(shard_.memory.contents("file"), "abcdef");
  expect_no_more_completions();
}

TEST_F(SessionRules, CancelOfAnUnknownUserDataIsENOENT) {
  submit({with_off(sqe(AIOD_OP_CANCEL, 1), 12345)});
  EXPECT_EQ(reap(), (Results{{1, -ENOENT}}));
  expect_no_more_completions();
}

TEST_F(SessionRules, AnInvalidDescriptorFailsItsChainBeforeAnythingRuns) {
  aiod_sqe bad = sqe(AIOD_OP_NOP, 2, kLink);
  bad.reserved1 = 1;
  submit({write(file_, 1, "Z", 0, kLink), bad, fsync(file_, 3, kLink), sqe(AIOD_OP_NOP, 4)});
  EXPECT_EQ(reap(), (Results{{1, -ECANCELED}, {2, -EINVAL}, {3, -ECANCELED}, {4, -ECANCELED}}));
  EXPECT_EQ(shard_.memory.contents("file"), "abcdef");
  expect_no_more_completions();
}

TEST_F(SessionRules, AnOpTheBackendDoesNotModelFailsAlone) {
  aiod_sqe sock = sqe(AIOD_OP_SOCKET, 1);
  sock.off = AF_UNIX;
  sock.op_flags = SOCK_STREAM;
  submit({sock, sqe(AIOD_OP_NOP, 2)});
  EXPECT_EQ(reap(), (Results{{1, -EOPNOTSUPP}, {2, 0}}));
  expect_no_more_completions();
}

// A session alone on its shard takes 16 descriptors per turn, so that the
// turn publishes their completions while the rest of the batch waits: the
// client sees the first half of a 32-op batch before the shard consumes the
// second (docs/protocol.md, fairness).
TEST_F(SessionRules, ALoneSessionsBigBatchIsPublishedInSteps) {
  for (std::uint64_t i = 0; i < 32; ++i) client_->push(sqe(AIOD_OP_NOP, i));
  client_->publish();
  std::vector<aiod_cqe> first;
  for (int i = 0; i < 10 && first.empty(); ++i) {
    (void)shard_.turn();
    first = client_->wait(1024, 0ms);
  }
  ASSERT_EQ(first.size(), 16u);
  for (std::size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].user_data, i);
  EXPECT_EQ(reap().size(), 16u);
  expect_no_more_completions();
}

// With another session waiting behind it, a session takes up to
// drain-budget descriptors in its turn: stopping at 16 would cost it a
// whole round of the others' turns per step.
TEST_F(SessionRules, WithOthersWaitingASessionTakesItsWholeBudget) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  std::optional<RawSession> other(std::in_place, UniqueFd(sv[0]), 64);
  bool other_ended = false;
  run_session(shard_, UniqueFd(sv[1]), other_ended);
  ASSERT_TRUE(shard_.settle());
  ASSERT_TRUE(other->finish_handshake()) << other->error();

  for (std::uint64_t i = 0; i < 32; ++i) {
    client_->push(sqe(AIOD_OP_NOP, i));
    other->push(sqe(AIOD_OP_NOP, i));
  }
  client_->publish();
  other->publish();
  std::size_t mine = 0, theirs = 0;
  for (int i = 0; i < 10 && mine + theirs == 0; ++i) {
    (void)shard_.turn();
    mine = client_->wait(1024, 0ms).size();
    theirs = other->wait(1024, 0ms).size();
  }
  // The first to run had the other waiting behind it: all 32 in one turn.
  // The second ran alone: 16.
  EXPECT_EQ(std::max(mine, theirs), 32u);
  EXPECT_EQ(std::min(mine, theirs), 16u);

  other.reset();
  ASSERT_TRUE(shard_.settle());
  EXPECT_TRUE(other_ended);
}

}  // namespace
}  // namespace aiod::daemon
