// SPDX-License-Identifier: MIT
// One uid cannot take the shared resources every uid needs.
//
// The threat: the daemon is one per host. Limits that are global only
// (max-sessions) let one user — any account on the host, or one container's
// processes — open every session slot, and control sessions that never time
// out keep slots forever; every other user is then refused service. Each uid
// must have its own share: one uid at its limits leaves the others served.
//
// These tests start the daemon with the per-uid settings they pin
// (max-sessions-per-uid, control-idle-timeout-ms); a daemon without them
// refuses to start and the test fails.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>

#include "aiod_shm.h"
#include "security_support.hpp"
#include "wire.hpp"

namespace aiod::test::sec {
namespace {

using namespace std::chrono_literals;

// nobody takes its four sessions and is refused a fifth; root and another
// uid are still served, and root's IO completes with the right results.
TEST(SessionQuota, OneUidAtItsSessionLimitLeavesOtherUidsServed) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon({"--max-sessions-per-uid", "4", "--max-sessions", "64"});
  ASSERT_TRUE(daemon.running()) << "the daemon does not take --max-sessions-per-uid";
  const ClientOptions options = daemon.client_options();
  // Values: 4 × connect, then [fifth refused?, its error], then the body
  // waits until the test has checked the others.
  UserProcess hog({}, [&](Channel& ch) {
    std::vector<Client> held;
    for (int i = 0; i < 4; ++i) {
      auto c = Client::connect(options);
      ch.put(c ? 0 : code(c.error()));
      if (c)
        held.push_back(std::move(*c));
      else
        ch.note("session " + std::to_string(i + 1) + ": " + c.message());
    }
    auto fifth = Client::connect(options);
    ch.put(fifth ? 0 : 1);
    ch.put(fifth ? 0 : code(fifth.error()));
    if (!fifth) ch.note("fifth session: " + fifth.message());
    (void)ch.wait_for_parent(60s);
    for (Client& c : held) ch.put(code(c.ping()));  // still served afterwards
  });
  ASSERT_TRUE(hog.wait_values(6, 30s)) << hog.outcome().describe();
  const Outcome& first = hog.outcome();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(first.values[i], 0) << "nobody's session " << i + 1 << ": " << first.describe();
  EXPECT_EQ(first.values[4], 1) << "nobody opened a fifth session beyond max-sessions-per-uid 4";
  EXPECT_EQ(first.values[5], code(make_error_code(errc::rejected))) << first.describe();

  // Root is served, and its IO is right.
  auto root = Client::connect(options);
  ASSERT_TRUE(root) << "root was refused while nobody is at its limit: " << root.message();
  const std::string path = daemon.directory() + "/served";
  Handle f;
  ASSERT_FALSE(root->single(OpenAt{.path = path.c_str(), .flags = O_RDWR | O_CREAT, .mode = 0600, .out_file = &f}));
  std::size_t written = 0, read = 0;
  char buf[32] = {};
  ASSERT_FALSE(root->multi(Write{.file = f,
                                 .buffer = std::string_view("still served"),
                                 .offset = 0,
                                 .out_written = &written,
                                 .link = Link::soft},
                           Read{.file = f, .buffer = buf, .offset = 0, .out_read = &read}));
  EXPECT_EQ(written, 12u);
  EXPECT_EQ(std::string(buf, read), "still served");

  // So is another unprivileged uid.
  const Outcome other = as_user({.uid = 65533, .gid = 65533}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
    if (!c) {
      ch.note(c.message());
      return;
    }
    ch.put(code(c->single(Nop{})));
  });
  ASSERT_TRUE(other.ok()) << other.describe();
  EXPECT_EQ(other.values, (std::vector<std::int64_t>{0, 0})) << "uid 65533 was not served: " << other.describe();

  hog.release();
  const Outcome& last = hog.finish(30s);
  ASSERT_TRUE(last.ok()) << last.describe();
  ASSERT_EQ(last.values.size(), 10u) << last.describe();
  for (int i = 6; i < 10; ++i) EXPECT_EQ(last.values[i], 0) << "nobody's own sessions stopped working";
}

// A control session (aioctl's kind) that says nothing more after its Hello is
// closed after control-idle-timeout-ms.
TEST(ControlSession, AnIdleControlSessionIsClosed) {
  AIOD_SEC_REQUIRE_ROOT();
  DaemonProcess daemon({"--control-idle-timeout-ms", "300"});
  ASSERT_TRUE(daemon.running()) << "the daemon does not take --control-idle-timeout-ms";
  const std::string socket_path = daemon.socket_path();
  // Values: [welcomed, closed, milliseconds until closed].
  const Outcome o = as_user({}, [&](Channel& ch) {
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ch.note(std::string("connect: ") + std::strerror(errno));
      return;
    }
    flatbuffers::FlatBufferBuilder b(128);
    const auto hello =
        wire::CreateHelloDirect(b, AIOD_PROTOCOL_VERSION, wire::SessionKind::Control, 0, 0, "idle-control");
    b.Finish(wire::CreateMessage(b, 1, wire::Body::Hello, hello.Union()), wire::MessageIdentifier());
    if (wire::send_message(fd, wire::view(b)) < 0) {
      ch.note("send hello failed");
      return;
    }
    wire::ReceivedMessage in;
    pollfd p{fd, POLLIN, 0};
    const bool welcomed = ::poll(&p, 1, 10'000) == 1 && wire::recv_message(fd, in) > 0 &&
                          wire::verify(in.bytes) != nullptr && wire::verify(in.bytes)->body_as_Welcome() != nullptr;
    ch.put(welcomed);
    if (!welcomed) return;
    const auto start = std::chrono::steady_clock::now();
    // Idle: wait (bounded) for the daemon to close the session.
    bool closed = false;
    while (std::chrono::steady_clock::now() - start < 5s) {
      p = {fd, POLLIN | POLLRDHUP, 0};
      if (::poll(&p, 1, 5'000) != 1) break;
      char c;
      const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        closed = true;
        break;
      }
      // A message from the daemon (an Error explaining the close): go on.
    }
    ch.put(closed);
    ch.put(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
    ::close(fd);
  });
  ASSERT_TRUE(o.ok()) << o.describe();
  ASSERT_EQ(o.values.size(), 3u) << o.describe();
  ASSERT_EQ(o.values[0], 1) << "no Welcome for a control Hello";
  EXPECT_EQ(o.values[1], 1) << "an idle control session was still open after " << o.values[2] << " ms";
  EXPECT_LT(o.values[2], 5000);
}

}  // namespace
}  // namespace aiod::test::sec
