// control_session.hpp — aioctl's connection to a daemon: a Control-kind
// session (no rings), synchronous requests with a reply timeout.
#pragma once

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
  const wire::Message* request(flatbuffers::FlatBufferBuilder& b, std::string& error);
  [[nodiscard]] std::uint64_t next_id() { return ++id_; }
  [[nodiscard]] const std::string& daemon_version() const { return daemon_version_; }
  [[nodiscard]] const std::string& backend() const { return backend_; }

 private:
  UniqueFd sock_;
  wire::ReceivedMessage last_;
  std::uint64_t id_ = 0;
  std::string daemon_version_;
  std::string backend_;
};

}  // namespace aiod::ctl
