// SPDX-License-Identifier: MIT
// session_control.cpp — control messages after the handshake: fd registration,
// ping, stats, and the owner's reload and shutdown. Replies go straight out
// with a non-blocking send: a client that does not read its control socket is
// disconnected rather than waited for.
#include <sys/eventfd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "os/fd_policy.hpp"
#include "os/peer_namespaces.hpp"
#include "session/session.hpp"
#include "stats/stats_reply.hpp"
#include "wire.hpp"

namespace aiod::daemon {
namespace {

// Reload and shutdown change what every user of the daemon gets, so they are
// for a peer that could signal the daemon itself, and no one else: one in
// the daemon's pid namespace that is either root holding CAP_KILL or the
// user the daemon runs as. The uid is SO_PEERCRED's, as the daemon's user
// namespace sees it, so root inside another user namespace (a container's)
// is its mapped uid here, and refused. Root by uid alone is not enough: a
// root that gave up CAP_KILL (a sandboxed service) or lives in a pid
// namespace of its own (a container without a user namespace) cannot kill
// the daemon, and so may not stop it through the socket either. A member of
// the socket's group may connect and read stats, and no more.
bool may_signal_daemon(const PeerCreds& peer, const PeerCreds& daemon) {
  constexpr unsigned kCapKill = 5;  // CAP_KILL, linux/capability.h
  if (peer_in_daemon_pidns(peer) != 1) return false;
  if (peer.uid == 0) return ((peer.cap_effective >> kCapKill) & 1) != 0;
  return peer.uid == daemon.uid;
}

std::string refusal(const char* what, const char* verb, const PeerCreds& daemon) {
  const std::string who = daemon.uid == 0 ? std::string("root")
                                          : "root or the daemon's user (uid " + std::to_string(daemon.uid) + ")";
  return std::string(what) + ": only " + who + " may " + verb + " it, from the daemon's pid namespace" +
         (daemon.uid == 0 ? " and holding CAP_KILL" : "");
}

}  // namespace

Task<> Session::serve_control() {
  if (!is_io_) host_.daemon().control_session_began(id_);
  while (!closing_) {
    wire::ReceivedMessage in;
    // A control session (aioctl) that stays silent is closed: it holds a
    // session slot of its uid. An IO session's control socket may be quiet
    // for ever.
    const int n =
        co_await receive(in, is_io_ ? std::chrono::nanoseconds(0) : host_.config().limits.control_idle_timeout);
    if (closing_) break;
    if (n == -ECANCELED && !is_io_) {
      request_close("control session idle for " + std::to_string(host_.config().limits.control_idle_timeout.count()) +
                    " ms (control-idle-timeout-ms)");
      break;
    }
    if (n == 0) {
      request_close("client disconnected");
      break;
    }
    if (n == -EMSGSIZE || n == -EPROTO) {
      reply_error(0, -n, n == -EMSGSIZE ? "control message too large" : "malformed control data");
      continue;
    }
    if (n < 0) {
      request_close(std::string("control socket: ") + std::strerror(-n));
      break;
    }
    const wire::Message* msg = wire::verify(in.bytes);
    if (msg == nullptr) {
      reply_error(0, EPROTO, "malformed control message (flatbuffers verification failed)");
      continue;
    }
    if (msg->body() != nullptr && msg->body_type() == wire::Body::ShutdownRequest) {
      if (!may_signal_daemon(creds_, host_.daemon().identity())) {
        reply_error(msg->id(), EPERM, refusal("shutdown", "stop", host_.daemon().identity()));
        continue;
      }
      // Ack first: once the main loop has the request, this session may be
      // closed at any moment. The client then waits for the connection to end.
      flatbuffers::FlatBufferBuilder b(64);
      b.Finish(wire::CreateMessage(b, msg->id(), wire::Body::Ack, wire::CreateAck(b).Union()),
               wire::MessageIdentifier());
      if (reply(wire::view(b)) < 0) break;
      auto action = std::make_shared<ControlAction>();
      action->kind = ControlAction::Kind::shutdown;
      action->requester = "uid " + std::to_string(creds_.uid) + ", pid " + std::to_string(creds_.pid);
      host_.daemon().request_control_action(std::move(action));
      continue;
    }
    if (msg->body() != nullptr && msg->body_type() == wire::Body::ReloadRequest) {
      if (!may_signal_daemon(creds_, host_.daemon().identity())) {
        reply_error(msg->id(), EPERM, refusal("reload", "reload", host_.daemon().identity()));
        continue;
      }
      auto action = std::make_shared<ControlAction>();
      action->kind = ControlAction::Kind::reload;
      action->requester = "uid " + std::to_string(creds_.uid) + ", pid " + std::to_string(creds_.pid);
      action->done.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!action->done) {
        reply_error(msg->id(), errno, std::string("reload: eventfd: ") + std::strerror(errno));
        continue;
      }
      const std::uint64_t id = msg->id();
      const int done_fd = action->done.get();
      host_.daemon().request_control_action(action);  // the daemon keeps its own reference
      // The session waits on the eventfd through its backend, so the shard
      // keeps serving its other sessions meanwhile. Closing the session
      // cancels the wait; the main loop's later write lands harmlessly in
      // the eventfd, which lives as long as either side holds the action.
      std::uint64_t value = 0;
      const BackendOp op(op::Read{.fd = done_fd, .buf = &value, .len = sizeof(value)});
      const int got = co_await BackendCall(host_.backend(), host_.scheduler(), op, &control_calls_,
                                         std::chrono::seconds(30));
      if (closing_) break;
      if (got != static_cast<int>(sizeof(value))) {
        reply_error(id, got < 0 && got != -ECANCELED ? -got : ETIMEDOUT, "reload: the daemon's main loop did not answer");
        continue;
      }
      const auto [accepted, message] = action->outcome();
      flatbuffers::FlatBufferBuilder b(256);
      const auto r = wire::CreateReloadReplyDirect(b, accepted, message.c_str());
      b.Finish(wire::CreateMessage(b, id, wire::Body::ReloadReply, r.Union()), wire::MessageIdentifier());
      (void)reply(wire::view(b));
      continue;
    }
    handle_message(*msg, in);
  }
}

void Session::handle_message(const wire::Message& msg, wire::ReceivedMessage& in) {
  flatbuffers::FlatBufferBuilder b(256);
  auto finish = [&](wire::Body type, flatbuffers::Offset<void> body) {
    b.Finish(wire::CreateMessage(b, msg.id(), type, body), wire::MessageIdentifier());
    (void)reply(wire::view(b));
  };
  // A verified union may still have a type and no value: every body pointer
  // is checked before use.
  if (msg.body() == nullptr) {
    reply_error(msg.id(), EPROTO, "control message without a body");
    return;
  }
  switch (msg.body_type()) {
    case wire::Body::Ping:
      finish(wire::Body::Pong, wire::CreatePong(b, msg.body_as_Ping()->nonce()).Union());
      return;
    case wire::Body::StatsRequest: {
      const auto* req = msg.body_as_StatsRequest();
      // Who else is connected (pids, users, names) is not everyone's business:
      // only root sees every session; others see their own user's.
      const StatsSnapshot snap = host_.daemon().collect_stats(req->include_sessions(), creds_.uid);
      flatbuffers::FlatBufferBuilder sb(4096);
      build_stats_reply(sb, msg.id(), snap, host_.daemon().backend_name(), req->first_session());
      (void)reply(wire::view(sb));
      return;
    }
    case wire::Body::RegisterFds: {
      if (!is_io_) {
        reply_error(msg.id(), EINVAL, "a control session has no handles");
        return;
      }
      const auto* req = msg.body_as_RegisterFds();
      if (in.fds.empty() || req->count() != in.fds.size()) {
        reply_error(msg.id(), EINVAL,
                    "RegisterFds.count (" + std::to_string(req->count()) + ") does not match the " +
                        std::to_string(in.fds.size()) + " descriptors received");
        return;
      }
      for (const UniqueFd& fd : in.fds) {
        if (refused_as_handle(fd.get())) {
          reply_error(msg.id(), EINVAL,
                      "a signalfd cannot be a handle: the daemon's threads would read the daemon's own signals");
          return;
        }
      }
      std::vector<std::uint32_t> handles;
      for (UniqueFd& fd : in.fds) {
        const std::int64_t h = handles_.insert(std::move(fd));
        if (h < 0) {
          for (std::uint32_t done : handles) handles_.close(done);
          reply_error(msg.id(), EMFILE, "the session's handle table is full");
          return;
        }
        handles.push_back(static_cast<std::uint32_t>(h));
      }
      finish(wire::Body::RegisterFdsReply, wire::CreateRegisterFdsReplyDirect(b, &handles).Union());
      return;
    }
    case wire::Body::UnregisterHandles: {
      // All or nothing: a request naming an unknown handle closes none.
      const auto* req = msg.body_as_UnregisterHandles();
      std::string bad;
      if (req->handles() != nullptr) {
        for (std::uint32_t h : *req->handles()) {
          if (!handles_.is_open(h)) bad += (bad.empty() ? "" : ", ") + std::to_string(h);
        }
      }
      if (!bad.empty()) {
        reply_error(msg.id(), EBADF, "unknown handles (none closed): " + bad);
        return;
      }
      if (req->handles() != nullptr) {
        for (std::uint32_t h : *req->handles()) handles_.close(h);
      }
      finish(wire::Body::Ack, wire::CreateAck(b).Union());
      return;
    }
    case wire::Body::Hello:
      reply_error(msg.id(), EPROTO, "Hello after the handshake");
      return;
    default:
      reply_error(msg.id(), EPROTO, std::string("unexpected control message: ") + wire::EnumNameBody(msg.body_type()));
      return;
  }
}

int Session::reply(std::span<const std::uint8_t> bytes, std::span<const int> fds) {
  const int err = wire::send_message(sock_.get(), bytes, fds);
  if (err < 0) {
    request_close(err == -EAGAIN ? "client does not read its control socket"
                                 : std::string("sending a reply: ") + std::strerror(-err));
  }
  return err;
}

int Session::reply_error(std::uint64_t request_id, int code, const std::string& message) {
  spdlog::debug("session {}: error reply {}: {}", id_, code, message);
  flatbuffers::FlatBufferBuilder b(256);
  const auto err = wire::CreateErrorDirect(b, code, message.c_str());
  b.Finish(wire::CreateMessage(b, request_id, wire::Body::Error, err.Union()), wire::MessageIdentifier());
  return reply(wire::view(b));
}

}  // namespace aiod::daemon
