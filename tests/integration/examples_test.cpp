// SPDX-License-Identifier: MIT
// The examples a new user copies from must work: each runs against a private
// daemon and its output is checked.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "loopback.hpp"
#include "op_fixture.hpp"

#ifdef AIOD_EXAMPLES_DIR

namespace aiod::test {
namespace {

std::string example(const char* name) { return std::string(AIOD_EXAMPLES_DIR) + "/" + name; }

TEST(Examples, FileIo) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  ::setenv("AIOD_SOCKET", daemon.socket_path().c_str(), 1);
  const CommandResult r = run_command({example("file_io"), daemon.directory() + "/example.txt"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("read back 62"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("64 nops: 0 failed"), std::string::npos) << r.out;
}

TEST(Examples, EchoServerAndClient) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.running());
  ::setenv("AIOD_SOCKET", daemon.socket_path().c_str(), 1);
  const std::string port = std::to_string(free_port());
  // The server serves one connection and exits; its first line says it listens.
  FILE* server = ::popen((example("echo_server") + " " + port + " 1").c_str(), "r");
  ASSERT_NE(server, nullptr);
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof(line), server), nullptr) << "the server did not start";
  EXPECT_NE(std::string(line).find("echo server on"), std::string::npos) << line;
  const CommandResult client = run_command({example("echo_client"), port, "4"});
  EXPECT_EQ(client.exit_code, 0) << client.out;
  EXPECT_NE(client.out.find("echoed: message 3 through aiod"), std::string::npos) << client.out;
  std::string rest;
  while (std::fgets(line, sizeof(line), server) != nullptr) rest += line;
  EXPECT_EQ(::pclose(server), 0) << rest;
  EXPECT_NE(rest.find("served 1 connection"), std::string::npos) << rest;
}

}  // namespace
}  // namespace aiod::test

#endif
