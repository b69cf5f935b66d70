// SPDX-License-Identifier: MIT
// Unit tests of running the io_uring backend as on an older kernel
// (backend/uring_kernel.hpp, --emulate-kernel): the release table, the floor,
// and a real ring masked down to 5.10, 5.15 and 6.1, whose missing opcodes
// run emulated with the same results and whose report says so.
#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "backend/uring_kernel.hpp"
#include "op_table.hpp"
#include "os/kernel_version.hpp"
#include "uring_backend_fixture.hpp"

namespace aiod::daemon::uring_test {
namespace {

constexpr KernelVersion k5_10{5, 10}, k5_15{5, 15}, k6_1{6, 1};

TEST(KernelVersion, ParsesTheLeadingMajorMinor) {
  EXPECT_EQ(KernelVersion::parse("6.1"), (KernelVersion{6, 1}));
  EXPECT_EQ(KernelVersion::parse("5.15.0-91-generic"), (KernelVersion{5, 15}));
  EXPECT_EQ(KernelVersion::parse("6.18.44+deb13-amd64"), (KernelVersion{6, 18}));
  EXPECT_EQ(KernelVersion::parse("5.14.0-362.el9.x86_64"), (KernelVersion{5, 14}));
  for (const char* bad : {"", "6", "6.", ".1", "x.1", "6.x", "6.1x", "-6.1"}) {
    EXPECT_FALSE(KernelVersion::parse(bad)) << bad;
  }
  EXPECT_LT((KernelVersion{5, 19}), (KernelVersion{6, 0}));
  EXPECT_LT((KernelVersion{5, 9}), (KernelVersion{5, 10}));
  EXPECT_EQ((KernelVersion{5, 10}).str(), "5.10");
}

TEST(UringKernelTable, OpcodesTheBackendUsesCameInTheirReleases) {
  EXPECT_EQ(uring_opcode_since(IORING_OP_READ), (KernelVersion{5, 6}));
  EXPECT_EQ(uring_opcode_since(IORING_OP_TIMEOUT), (KernelVersion{5, 4}));
  EXPECT_EQ(uring_opcode_since(IORING_OP_SHUTDOWN), (KernelVersion{5, 11}));
  EXPECT_EQ(uring_opcode_since(IORING_OP_SOCKET), (KernelVersion{5, 19}));
  EXPECT_EQ(uring_opcode_since(55), (KernelVersion{6, 9}));   // FTRUNCATE
  EXPECT_EQ(uring_opcode_since(57), (KernelVersion{6, 11}));  // LISTEN
  EXPECT_FALSE(uring_opcode_since(0xff));
  // The numbering only grows: no opcode came before the one below it.
  for (unsigned op = 1; uring_opcode_since(static_cast<std::uint8_t>(op)); ++op) {
    EXPECT_GE(*uring_opcode_since(static_cast<std::uint8_t>(op)),
              *uring_opcode_since(static_cast<std::uint8_t>(op - 1)))
        << op;
  }
}

TEST(UringKernelTable, SetupFlagsAndFeaturesOfAnOlderKernel) {
  const unsigned preferred =
      IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
  EXPECT_EQ(uring_setup_flags_in(preferred, k6_1), preferred);
  EXPECT_EQ(uring_setup_flags_in(preferred, k5_15), IORING_SETUP_CQSIZE);
  EXPECT_EQ(uring_setup_flags_in(IORING_SETUP_COOP_TASKRUN, {5, 19}), IORING_SETUP_COOP_TASKRUN);
  EXPECT_EQ(uring_setup_flags_in(IORING_SETUP_COOP_TASKRUN, {5, 18}), 0u);
  // EXT_ARG (5.11) decides how liburing waits with a timeout.
  EXPECT_EQ(uring_features_in(IORING_FEAT_EXT_ARG | IORING_FEAT_NODROP, k5_10), unsigned{IORING_FEAT_NODROP});
  EXPECT_EQ(uring_features_in(IORING_FEAT_EXT_ARG, k5_15), unsigned{IORING_FEAT_EXT_ARG});
}

// Whether this host's own kernel is at least `since`: an opcode newer than
// the host is emulated whatever release is asked for (or native, if the
// distribution backported it), so checks of the ring skip there.
bool host_has(KernelVersion since) { return running_kernel().version >= since; }

class EmulatedKernel : public UringBackendFixture {
 protected:
  void SetUp() override {}
  const BackendReport::Op& report_of(BackendOpcode op) {
    report_ = backend_->report();
    return report_.ops[static_cast<std::size_t>(op)];
  }
  BackendReport report_;
  OpRoute route_ = OpRoute::posix;
};

// Below the floor the backend refuses to start, saying why.
TEST_F(EmulatedKernel, BelowTheFloorTheBackendRefusesToStart) {
  std::string error;
  EXPECT_EQ(make_uring_backend(16, 4, KernelVersion{5, 9}, error), nullptr);
  EXPECT_NE(error.find("older than the io_uring backend's floor, 5.10"), std::string::npos) << error;
}

// What 6.1's io_uring lacks (BIND, LISTEN, FTRUNCATE) runs in the posix part,
// with the results the ring would give; the report names the route, and the
// counts say where each op ran.
TEST_F(EmulatedKernel, On6_1BindListenAndFtruncateRunEmulated) {
  ASSERT_NO_FATAL_FAILURE(make(64, k6_1));
  if (!backend_) return;
  EXPECT_EQ(report_of(BackendOpcode::bind).route, OpRoute::emulated);
  EXPECT_EQ(report_of(BackendOpcode::listen).route, OpRoute::emulated);
  EXPECT_EQ(report_of(BackendOpcode::ftruncate).route, OpRoute::emulated);
  if (host_has({5, 19})) {
    EXPECT_EQ(report_of(BackendOpcode::socket).route, OpRoute::ring);
  }
  EXPECT_EQ(report_of(BackendOpcode::read).route, OpRoute::ring);
  EXPECT_EQ(report_of(BackendOpcode::statx).route, OpRoute::posix);
  EXPECT_EQ(backend_->report().emulated_kernel, "6.1");

  const int s = keep(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(
      run(BackendOp(op::Bind{.fd = s, .addr = reinterpret_cast<const sockaddr*>(&addr), .addr_len = sizeof(addr)})), 0);
  EXPECT_EQ(run(BackendOp(op::Listen{.fd = s, .backlog = 4})), 0);
  // A second bind of the same socket: the kernel's own error, as on the ring.
  EXPECT_EQ(
      run(BackendOp(op::Bind{.fd = s, .addr = reinterpret_cast<const sockaddr*>(&addr), .addr_len = sizeof(addr)})),
      -EINVAL);
  const int f = file("t");
  EXPECT_EQ(run(BackendOp(op::Ftruncate{.fd = f, .length = 4096})), 0);
  EXPECT_EQ(size_of(f), 4096);
  EXPECT_EQ(run(BackendOp(op::Read{.fd = f, .buf = nullptr, .len = 0, .offset = 0})), 0);

  EXPECT_EQ(report_of(BackendOpcode::bind).posix, 2u);
  EXPECT_EQ(report_of(BackendOpcode::bind).ring, 0u);
  EXPECT_EQ(report_of(BackendOpcode::ftruncate).posix, 1u);
  EXPECT_EQ(report_of(BackendOpcode::read).ring, 1u);
  EXPECT_EQ(report_of(BackendOpcode::read).posix, 0u);
}

// 5.15 lacks SOCKET (5.19): a socket made by the posix part is as good.
TEST_F(EmulatedKernel, On5_15SocketRunsEmulated) {
  ASSERT_NO_FATAL_FAILURE(make(64, k5_15));
  if (!backend_) return;
  EXPECT_EQ(report_of(BackendOpcode::socket).route, OpRoute::emulated);
  if (host_has({5, 11})) {
    EXPECT_EQ(report_of(BackendOpcode::shutdown).route, OpRoute::ring);
  }
  EXPECT_EQ(backend_->report().setup, "cqsize");
  const int fd = run(BackendOp(op::Socket{.domain = AF_INET, .type = SOCK_STREAM | SOCK_CLOEXEC}));
  ASSERT_GE(fd, 0);
  keep(fd);
  int type = 0;
  socklen_t len = sizeof(type);
  ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
  EXPECT_EQ(type, SOCK_STREAM);
  EXPECT_EQ(report_of(BackendOpcode::socket).posix, 1u);
}

// A timer's expiry is -ETIME on every kernel (IORING_TIMEOUT_ETIME_SUCCESS,
// 5.16, is not needed); paired with a link timeout, the pair ends as on 6.x.
TEST_F(EmulatedKernel, On5_10TimersExpireWithEtime) {
  ASSERT_NO_FATAL_FAILURE(make(64, k5_10));
  if (!backend_) return;
  const __kernel_timespec ts{0, 1'000'000};
  EXPECT_EQ(run(BackendOp(op::Timeout{.ts = &ts})), -ETIME);
  const __kernel_timespec later{5, 0};
  Recorder timer, guard;
  ASSERT_EQ(backend_->prepare(linked(BackendOp(op::Timeout{.ts = &ts}), Link::soft), &timer), 0);
  ASSERT_EQ(backend_->prepare(link_timer_op(later), &guard), 0);
  ASSERT_TRUE(finish(timer, guard));
  settle();
  EXPECT_EQ(timer.result, -ETIME);
  EXPECT_EQ(guard.result, -ECANCELED);
  EXPECT_EQ(timer.count, 1);
  EXPECT_EQ(guard.count, 1);
}

// Before 5.11 (no IORING_FEAT_EXT_ARG) liburing waits with a timeout by
// queueing a TIMEOUT of its own; its completion belongs to no op and must not
// be delivered as one, and a wait it ends is -ETIME as on newer kernels.
TEST_F(EmulatedKernel, On5_10WaitingWithATimeoutDeliversOnlyOpCompletions) {
  ASSERT_NO_FATAL_FAILURE(make(64, k5_10));
  if (!backend_) return;
  EXPECT_EQ(backend_->wait(std::chrono::milliseconds(1)), -ETIME);  // nothing to wait for: the timer ends it
  backend_->drain();
  // The nop and liburing's timer go in together: the timer's completion
  // stays in the queue for drain(), next to the nop's.
  Recorder r;
  ASSERT_EQ(backend_->prepare(BackendOp{}, &r), 0);
  EXPECT_EQ(backend_->wait(std::chrono::milliseconds(100)), 0);
  EXPECT_EQ(backend_->drain(), 1);
  settle();
  EXPECT_EQ(r.count, 1);
  EXPECT_EQ(r.result, 0);
}

// The "Linux" column of docs/operations.md (op_table.hpp's native_since)
// agrees with this table: an op whose backend op has its name runs on the
// ring from that release, and emulated on the release before.
TEST_F(EmulatedKernel, TheOpTablesNativeReleasesAreTheRingsOwn) {
  auto backend_kind = [](std::string name) -> std::optional<BackendOpcode> {
    std::erase(name, '_');  // recv_msg: recvmsg
    for (unsigned i = 0; i < static_cast<unsigned>(BackendOpcode::count); ++i) {
      std::string kind(backend_op_name(static_cast<BackendOpcode>(i)));
      std::erase(kind, '_');
      if (kind == name) return static_cast<BackendOpcode>(i);
    }
    return std::nullopt;
  };
  auto route_on = [&](KernelVersion kernel, BackendOpcode kind) {
    ASSERT_NO_FATAL_FAILURE(make(16, kernel));
    route_ = backend_ ? report_of(kind).route : OpRoute::posix;
  };
  unsigned checked = 0;
  for (const proto::OpInfo& info : proto::table::kOps) {
    const auto kind = backend_kind(std::string(info.name));
    if (!kind || info.native_since.empty()) continue;
    const auto since = KernelVersion::parse(info.native_since);
    ASSERT_TRUE(since) << info.name;
    if (!host_has(*since)) continue;  // this host's io_uring may lack it
    ASSERT_NO_FATAL_FAILURE(route_on(std::max(*since, kUringFloor), *kind));
    if (!backend_) return;  // no io_uring here
    EXPECT_EQ(route_, OpRoute::ring) << info.name << " on " << std::max(*since, kUringFloor).str();
    if (*since > kUringFloor) {
      const KernelVersion before =
          since->minor > 0 ? KernelVersion{since->major, since->minor - 1} : KernelVersion{since->major - 1, 99};
      ASSERT_NO_FATAL_FAILURE(route_on(before, *kind));
      EXPECT_EQ(route_, OpRoute::emulated) << info.name << " on " << before.str();
    }
    ++checked;
  }
  EXPECT_GE(checked, host_has({6, 11}) ? 20u : 15u);
}

}  // namespace
}  // namespace aiod::daemon::uring_test
