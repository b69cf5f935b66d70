// SPDX-License-Identifier: MIT
// wire.hpp — framing of control messages on the SOCK_SEQPACKET socket.
//
// One datagram carries one flatbuffers `Message` (control.fbs) and, optionally,
// file descriptors as SCM_RIGHTS. Both sides use these functions, so the rules
// are the same everywhere: descriptors arrive close-on-exec, a truncated message
// or truncated control data is an error (and the descriptors that did arrive are
// closed), and a buffer is only read after verification with tight limits.
//
// Errors are returned as -errno. Thread-safety: none needed (no shared state).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "aiod/control_generated.h"
#include "unique_fd.hpp"

namespace aiod::wire {

// Largest control message either side sends or accepts.
inline constexpr std::size_t kMaxMessageBytes = 64 * 1024;
// Most descriptors one message may carry.
inline constexpr std::size_t kMaxFdsPerMessage = 16;

struct ReceivedMessage {
  std::vector<std::uint8_t> bytes;
  std::vector<UniqueFd> fds;
};

// Sends one message with `fds` attached. Returns 0 or -errno. Blocking or not
// depending on the socket; MSG_NOSIGNAL is always set.
[[nodiscard]] int send_message(int sock, std::span<const std::uint8_t> bytes, std::span<const int> fds = {});

// Receives one message (blocking unless `flags` has MSG_DONTWAIT). Returns the
// byte count (0 = orderly shutdown by the peer) or -errno: -EMSGSIZE when the
// datagram was truncated, -EPROTO when control data was truncated or malformed.
[[nodiscard]] int recv_message(int sock, ReceivedMessage& out, int flags = 0);

// Storage for one recvmsg() whose completion is parsed later (the daemon posts
// the recvmsg to its backend ring). The object must stay put while the receive is
// in flight: `hdr` points into it.
struct RecvBuffer {
  RecvBuffer();
  RecvBuffer(const RecvBuffer&) = delete;
  RecvBuffer& operator=(const RecvBuffer&) = delete;

  // Re-arms hdr for the next receive.
  void prepare();
  // Interprets a completed recvmsg() of `n` bytes (or -errno). Takes the
  // descriptors that arrived. Returns n or -errno as recv_message() does.
  [[nodiscard]] int finish(int n, ReceivedMessage& out);

  msghdr hdr{};
  iovec iov{};
  std::vector<std::uint8_t> data;
  alignas(cmsghdr) std::uint8_t control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
};

// Verifies `bytes` as a Message with the "AIOD" identifier and limits suited to
// control messages. Returns the root or nullptr when the buffer is malformed.
[[nodiscard]] const Message* verify(std::span<const std::uint8_t> bytes);

// A finished builder's buffer as a span.
[[nodiscard]] inline std::span<const std::uint8_t> view(const flatbuffers::FlatBufferBuilder& b) {
  return {b.GetBufferPointer(), b.GetSize()};
}

}  // namespace aiod::wire
