// SPDX-License-Identifier: MIT
// control_requests.cpp — synchronous requests and replies on the control socket.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "connection.hpp"

namespace aiod::detail {
namespace {

constexpr int kReplyTimeoutMs = 10'000;

}  // namespace

Result<std::vector<Handle>> Connection::register_fds(std::span<const int> fds) {
  flatbuffers::FlatBufferBuilder b(128);
  const auto body = wire::CreateRegisterFds(b, static_cast<std::uint32_t>(fds.size()));
  b.Finish(wire::CreateMessage(b, next_request_id(), wire::Body::RegisterFds, body.Union()), wire::MessageIdentifier());
  auto reply = request(b, fds);
  if (!reply) return {reply.error(), reply.detail()};
  const wire::Message* msg = wire::verify(reply->bytes);
  const wire::RegisterFdsReply* r = msg != nullptr ? msg->body_as_RegisterFdsReply() : nullptr;
  if (r == nullptr || r->handles() == nullptr || r->handles()->size() != fds.size()) {
    return {errc::protocol_error, "expected a RegisterFdsReply"};
  }
  std::vector<Handle> handles;
  for (std::uint32_t h : *r->handles()) handles.push_back(Handle{h});
  return handles;
}

std::error_code Connection::unregister(std::span<const std::uint32_t> handles) {
  const std::vector<std::uint32_t> values(handles.begin(), handles.end());
  flatbuffers::FlatBufferBuilder b(128);
  const auto body = wire::CreateUnregisterHandlesDirect(b, &values);
  b.Finish(wire::CreateMessage(b, next_request_id(), wire::Body::UnregisterHandles, body.Union()),
           wire::MessageIdentifier());
  auto reply = request(b);
  return reply ? std::error_code() : reply.error();
}

Result<wire::ReceivedMessage> Connection::request(flatbuffers::FlatBufferBuilder& b, std::span<const int> fds) {
  if (dead_) return errc::daemon_gone;
  const wire::Message* sent_msg = wire::verify(wire::view(b));
  const std::uint64_t id = sent_msg != nullptr ? sent_msg->id() : 0;
  const int sent = wire::send_message(sock_.get(), wire::view(b), fds);
  if (sent < 0 && sent != -EPIPE && sent != -ECONNRESET) return std::error_code(-sent, std::system_category());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReplyTimeoutMs);
  for (;;) {
    if (sent == 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{sock_.get(), POLLIN, 0};
      int ready;
      do {
        ready = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
      } while (ready < 0 && errno == EINTR);
      if (ready == 0) return errc::timed_out;
    }
    // A daemon that refuses a connection (too many sessions) sends its reason
    // and closes, possibly before our request went out: the reason may still
    // be waiting to be read even when the send failed.
    wire::ReceivedMessage in;
    const int n = wire::recv_message(sock_.get(), in, sent < 0 ? MSG_DONTWAIT : 0);
    if (n == 0 || n == -ECONNRESET || n == -EAGAIN) {
      dead_ = true;
      return errc::daemon_gone;
    }
    if (n < 0) return {errc::protocol_error, std::string("receiving a reply: ") + std::strerror(-n)};
    const wire::Message* msg = wire::verify(in.bytes);
    if (msg == nullptr) return {errc::protocol_error, "malformed reply"};
    const wire::Error* e = msg->body_as_Error();
    // A late reply to an earlier request that timed out is not this one's.
    if (msg->id() != id && !(e != nullptr && msg->id() == 0)) continue;
    if (e != nullptr) {
      std::string text = e->message() != nullptr ? e->message()->str() : "";
      if (e->code() > 0) text += " (" + std::string(std::strerror(e->code())) + ")";
      if (sent < 0) dead_ = true;
      return {errc::rejected, text};
    }
    if (sent < 0) {
      dead_ = true;
      return errc::daemon_gone;
    }
    return in;
  }
}

}  // namespace aiod::detail
