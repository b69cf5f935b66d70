// SPDX-License-Identifier: MIT
#include "control_session.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "aiod_shm.h"

namespace aiod::ctl {

ConnectStatus ControlSession::connect(const std::string& path, std::string& error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    error = "invalid socket path '" + path + "'";
    return ConnectStatus::failed;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  sock_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!sock_ || ::connect(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    const int err = errno;
    error = "cannot connect to aiod at " + path + ": " + std::strerror(err);
    return err == ENOENT || err == ECONNREFUSED ? ConnectStatus::not_running : ConnectStatus::failed;
  }
  flatbuffers::FlatBufferBuilder b(128);
  const auto hello = wire::CreateHelloDirect(b, AIOD_PROTOCOL_VERSION, wire::SessionKind::Control, 0, 0, "aioctl");
  b.Finish(wire::CreateMessage(b, next_id(), wire::Body::Hello, hello.Union()), wire::MessageIdentifier());
  const wire::Message* reply = request(b, error);
  if (reply == nullptr) return ConnectStatus::failed;
  const wire::Welcome* w = reply->body_as_Welcome();
  if (w == nullptr) {
    error = "the daemon did not answer the Hello with a Welcome";
    return ConnectStatus::failed;
  }
  if (w->daemon_version() != nullptr) daemon_version_ = w->daemon_version()->str();
  if (w->backend() != nullptr) backend_ = w->backend()->str();
  return ConnectStatus::ok;
}

const wire::Message* ControlSession::request(flatbuffers::FlatBufferBuilder& b, std::string& error) {
  error_code_ = 0;
  if (const int err = wire::send_message(sock_.get(), wire::view(b)); err < 0) {
    error = std::string("sending to aiod: ") + std::strerror(-err);
    return nullptr;
  }
  pollfd p{sock_.get(), POLLIN, 0};
  if (::poll(&p, 1, 10'000) <= 0) {
    error = "aiod did not answer within 10 s";
    return nullptr;
  }
  const int n = wire::recv_message(sock_.get(), last_);
  if (n <= 0) {
    error = n == 0 ? "aiod closed the connection" : std::string("receiving from aiod: ") + std::strerror(-n);
    return nullptr;
  }
  const wire::Message* msg = wire::verify(last_.bytes);
  if (msg == nullptr) {
    error = "malformed reply from aiod";
    return nullptr;
  }
  if (const wire::Error* e = msg->body_as_Error()) {
    error_code_ = e->code();
    error = "aiod: " + (e->message() != nullptr ? e->message()->str() : std::string("error")) + " (" +
            std::strerror(e->code()) + ")";
    return nullptr;
  }
  return msg;
}

bool ControlSession::wait_closed(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{sock_.get(), POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    // Anything still arriving is read and dropped; end of stream (0) or a
    // reset connection is the daemon gone.
    const int n = wire::recv_message(sock_.get(), last_, MSG_DONTWAIT);
    if (n == 0 || n == -ECONNRESET) return true;
    if (n < 0 && n != -EAGAIN && n != -EINTR) return false;
  }
}

}  // namespace aiod::ctl
