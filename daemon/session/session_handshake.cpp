// SPDX-License-Identifier: MIT
// session_handshake.cpp — the hello/welcome exchange that opens a session.
//
// Hello → checks → (an IO session: setup_io, in session_setup.cpp) → Welcome.
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "os/peer_creds.hpp"
#include "os/version.hpp"
#include "runtime/backend_call.hpp"
#include "session/session.hpp"
#include "wire.hpp"

namespace aiod::daemon {
namespace {

// Client names go to logs and tables: keep them short and printable.
std::string sanitise_name(const flatbuffers::String* raw) {
  std::string name;
  if (raw == nullptr) return name;
  for (char c : raw->string_view()) {
    if (name.size() == 64) break;
    name.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return name;
}

}  // namespace

Task<int> Session::receive(wire::ReceivedMessage& out, std::chrono::nanoseconds limit) {
  if (!recv_buf_) recv_buf_ = std::make_unique<wire::RecvBuffer>();
  recv_buf_->prepare();
  const BackendOp op(op::Recvmsg{.fd = sock_.get(), .msg = &recv_buf_->hdr, .flags = MSG_CMSG_CLOEXEC});
  int n;
  if (limit.count() > 0) {
    n = co_await BackendCall(host_.backend(), host_.scheduler(), op, &control_calls_, limit);
  } else {
    n = co_await BackendCall(host_.backend(), host_.scheduler(), op, &control_calls_);
  }
  co_return recv_buf_->finish(n, out);
}

Task<int> Session::handshake() {
  wire::ReceivedMessage in;
  // A connection that never says hello must not hold a session for ever.
  const int n = co_await receive(in, host_.config().limits.handshake_timeout);
  if (n <= 0) {
    request_close(n == 0            ? "client left before its hello"
                  : n == -ECANCELED ? "no hello within the handshake timeout"
                                    : std::string("receiving hello: ") + std::strerror(-n));
    co_return n == 0 ? -ECONNRESET : n;
  }
  const wire::Message* msg = wire::verify(in.bytes);
  if (!refusal_.empty()) {
    // Answered only now, after reading the hello: closing a socket with its
    // hello unread would reset the connection and lose the explanation.
    reply_error(msg != nullptr ? msg->id() : 0, EUSERS, refusal_);
    request_close("refused: " + refusal_);
    co_return -EUSERS;
  }
  const wire::Hello* hello = msg != nullptr ? msg->body_as_Hello() : nullptr;
  if (hello == nullptr) {
    reply_error(msg != nullptr ? msg->id() : 0, EPROTO, "the first message must be a valid Hello");
    request_close("malformed hello");
    co_return -EPROTO;
  }
  if (hello->protocol_version() != AIOD_PROTOCOL_VERSION) {
    reply_error(msg->id(), EPROTONOSUPPORT,
                "protocol version " + std::to_string(hello->protocol_version()) +
                    " is not supported; this aiod speaks version " + std::to_string(AIOD_PROTOCOL_VERSION));
    request_close("protocol version mismatch");
    co_return -EPROTONOSUPPORT;
  }
  name_ = sanitise_name(hello->client_name());
  if (const int err = read_peer_creds(sock_.get(), creds_); err < 0) {
    reply_error(msg->id(), -err, "cannot read the peer's credentials");
    request_close("no peer credentials");
    co_return err;
  }
  if (hello->kind() != wire::SessionKind::Io && hello->kind() != wire::SessionKind::Control) {
    reply_error(msg->id(), EPROTO, "unknown session kind " + std::to_string(static_cast<int>(hello->kind())));
    request_close("unknown session kind");
    co_return -EPROTO;
  }
  if (hello->kind() == wire::SessionKind::Control) {
    if (!in.fds.empty()) {
      reply_error(msg->id(), EINVAL, "a control Hello carries no descriptors");
      request_close("descriptors with a control hello");
      co_return -EINVAL;
    }
    flatbuffers::FlatBufferBuilder b(256);
    const auto welcome = wire::CreateWelcomeDirect(b, AIOD_PROTOCOL_VERSION, id_, kVersion,
                                                   std::string(host_.backend().info().name).c_str());
    b.Finish(wire::CreateMessage(b, msg->id(), wire::Body::Welcome, welcome.Union()), wire::MessageIdentifier());
    co_return reply(wire::view(b)) < 0 ? -EPIPE : 0;
  }
  const int err = setup_io(*msg, in);
  if (err < 0) request_close("handshake refused");
  co_return err;
}

}  // namespace aiod::daemon
