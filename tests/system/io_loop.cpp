// SPDX-License-Identifier: MIT
// io_loop — a client that keeps doing IO through aiod across the daemon's
// stops, restarts and deaths, and says what it saw. The system suite runs it
// inside the container while systemd stops, restarts or kills the daemon.
//
//   io_loop FILE SECONDS
//
// Writes 4 KiB to FILE and reads it back, in a loop, for SECONDS. Lines on
// stdout (line-buffered, so the scenario sees each as it happens):
//   connected                  the first session is up
//   progress N                 N rounds done so far (every 200 rounds)
//   error: WHAT                a round failed; WHAT is errc's name for
//                              libaiod's own errors (daemon_gone, ...) or the
//                              errno name (ECANCELED, ...); printed once per
//                              outage
//   reconnected after MS ms    a new session is up after an outage
// A failed round means the session is over: the loop drops the client and
// connects again, retrying for as long as SECONDS allows. Exit status 0 at
// the end, 1 when the last connection attempt failed.
#include <aiod/aiod.hpp>

#include <fcntl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

std::string describe(const std::error_code& ec) {
  if (ec.category() == aiod::category()) {
    switch (static_cast<aiod::errc>(ec.value())) {
      case aiod::errc::daemon_not_running:
        return "daemon_not_running";
      case aiod::errc::daemon_gone:
        return "daemon_gone";
      case aiod::errc::some_operation_failed:
        return "some_operation_failed";
      default:
        return ec.message();
    }
  }
  if (ec.value() == ECANCELED) return "ECANCELED";
  return ec.message();
}

// One round: write the block and read it back through the daemon.
std::error_code round(aiod::Client& client, aiod::Handle file, char* block, char* back) {
  std::size_t written = 0, read = 0;
  std::error_code write_error, read_error;
  if (auto ec = client.multi(aiod::Write{.file = file,
                                         .buffer = aiod::ConstBuffer(block, 4096),
                                         .offset = 0,
                                         .out_written = &written,
                                         .link = aiod::Link::soft,
                                         .out_error = &write_error},
                             aiod::Read{.file = file,
                                        .buffer = aiod::MutableBuffer(back, 4096),
                                        .offset = 0,
                                        .out_read = &read,
                                        .out_error = &read_error})) {
    // The first op's own error says more than "some operation failed".
    if (write_error) return write_error;
    if (read_error) return read_error;
    return ec;
  }
  if (written != 4096 || read != 4096 || std::memcmp(block, back, 4096) != 0) {
    return std::make_error_code(std::errc::io_error);
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: io_loop FILE SECONDS\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const char* path = argv[1];
  const auto end = Clock::now() + std::chrono::seconds(std::atoi(argv[2]));
  static char block[4096], back[4096];
  std::memset(block, 'a', sizeof(block));

  unsigned long rounds = 0;
  bool first = true;
  std::optional<Clock::time_point> outage;  // since when the last round failed
  std::string last_error;
  while (Clock::now() < end) {
    auto client = aiod::Client::connect({.name = "io_loop"});
    aiod::Handle file;
    std::error_code ec =
        client ? client->single(aiod::OpenAt{.path = path, .flags = O_RDWR | O_CREAT, .mode = 0644, .out_file = &file})
               : std::error_code(client.error());
    if (ec) {
      if (!outage) outage = Clock::now();
      if (describe(ec) != last_error) {
        last_error = describe(ec);
        std::printf("error: %s\n", last_error.c_str());
      }
      // The socket may be gone for a while (a stopped aiod.socket): try again
      // soon, without spinning.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (first) {
      std::printf("connected\n");
      first = false;
    } else if (outage) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - *outage).count();
      std::printf("reconnected after %lld ms\n", static_cast<long long>(ms));
    }
    outage.reset();
    last_error.clear();
    while (Clock::now() < end) {
      ec = round(*client, file, block, back);
      if (ec) break;
      if (++rounds % 200 == 0) std::printf("progress %lu\n", rounds);
    }
    if (!ec) break;
    outage = Clock::now();
    last_error = describe(ec);
    std::printf("error: %s\n", last_error.c_str());
  }
  return outage ? 1 : 0;
}
