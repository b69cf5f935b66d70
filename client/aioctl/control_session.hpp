// SPDX-License-Identifier: MIT
// control_session.hpp — aioctl's connection to a daemon: a Control-kind
// session (no rings), synchronous requests with a reply timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "unique_fd.hpp"
#include "wire.hpp"

namespace aiod::ctl {

enum class ConnectStatus { ok, not_running, failed };

class ControlSession {
 public:
  // Connects and says Hello. On failure `error` explains.
  ConnectStatus connect(const std::string& socket_path, std::string& error);
  // Sends `b` (finished) and returns the verified reply, or nullptr with `error`.
  // An Error reply gives nullptr too; error_code() then has its errno value.
  const wire::Message* request(flatbuffers::FlatBufferBuilder& b, std::string& error);
  // The code of the last Error reply (0 if the last request got none).
  [[nodiscard]] int error_code() const { return error_code_; }
  // Waits until the daemon closes the connection; false if it has not within `limit`.
  bool wait_closed(std::chrono::milliseconds limit);
  [[nodiscard]] std::uint64_t next_id() { return ++id_; }
  [[nodiscard]] const std::string& daemon_version() const { return daemon_version_; }
  [[nodiscard]] const std::string& backend() const { return backend_; }

 private:
  UniqueFd sock_;
  wire::ReceivedMessage last_;
  std::uint64_t id_ = 0;
  int error_code_ = 0;
  std::string daemon_version_;
  std::string backend_;
};

}  // namespace aiod::ctl
