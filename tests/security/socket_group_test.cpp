// SPDX-License-Identifier: MIT
// socket-group and socket-mode: a daemon started by hand serves exactly the
// group it is told to, as aiod.socket's SocketGroup=/SocketMode= do. A user
// outside the group cannot even connect.
#include <sys/stat.h>

#include "security_support.hpp"

namespace aiod::test::sec {
namespace {

constexpr gid_t kOutsider = 54321;  // a gid no group of the socket has

std::int64_t connect_as(const ClientOptions& options, gid_t gid) {
  const Outcome o = as_user({.gid = gid}, [&](Channel& ch) {
    auto c = Client::connect(options);
    ch.put(c ? 0 : code(c.error()));
  });
  if (!o.ok() || o.values.size() != 1) {
    ADD_FAILURE() << o.describe();
    return -1;
  }
  return o.values[0];
}

TEST(SocketGroup, OnlyTheSocketsGroupMayConnect) {
  DaemonProcess daemon({"--socket-group", std::to_string(kNogroup), "--socket-mode", "0660"});
  ASSERT_TRUE(daemon.running());
  struct stat st {};
  ASSERT_EQ(::lstat(daemon.socket_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, kNogroup) << "the socket belongs to gid " << st.st_gid;
  EXPECT_EQ(st.st_mode & 07777, 0660u) << std::oct << (st.st_mode & 07777);
  EXPECT_EQ(connect_as(daemon.client_options(), kNogroup), 0) << "a member of the socket's group was refused";
  const std::int64_t outsider = connect_as(daemon.client_options(), kOutsider);
  EXPECT_NE(outsider, 0) << "a user outside the socket's group connected";
}

TEST(SocketGroup, AGroupNameIsResolved) {
  DaemonProcess daemon({"--socket-group", "nogroup", "--socket-mode", "0660"});
  ASSERT_TRUE(daemon.running());
  struct stat st {};
  ASSERT_EQ(::lstat(daemon.socket_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, kNogroup);
}

}  // namespace
}  // namespace aiod::test::sec
