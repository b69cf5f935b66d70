// SPDX-License-Identifier: MIT
#include "wire.hpp"

#include <cerrno>
#include <cstring>

namespace aiod::wire {
namespace {

// Moves every descriptor carried by `hdr` into `out` (so none leaks), and
// reports whether the control data was well formed.
bool take_fds(msghdr& hdr, std::vector<UniqueFd>& out) {
  bool ok = true;
  for (cmsghdr* c = CMSG_FIRSTHDR(&hdr); c != nullptr; c = CMSG_NXTHDR(&hdr, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
      ok = false;
      continue;
    }
    const std::size_t payload = c->cmsg_len - CMSG_LEN(0);
    const std::size_t count = payload / sizeof(int);
    const auto* data = CMSG_DATA(c);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, data + i * sizeof(int), sizeof(int));
      out.emplace_back(fd);
    }
  }
  return ok;
}

// The flatbuffers verifier checks a vector's 4-byte length prefix, not that
// its elements are aligned for their type: a [ulong] vector 4 bytes off an
// 8-byte boundary verifies, and reading it is a misaligned 8-byte load
// (undefined behaviour). A histogram's are the only 8-byte vectors in
// control.fbs; one added there must be checked here too.
bool elements_aligned(const flatbuffers::Vector<std::uint64_t>* v, const std::uint8_t* base) {
  return v == nullptr || v->size() == 0 ||
         (reinterpret_cast<const std::uint8_t*>(v->Data()) - base) % alignof(std::uint64_t) == 0;
}

bool histogram_aligned(const Histogram* h, const std::uint8_t* base) {
  return h == nullptr || (elements_aligned(h->bounds_ns(), base) && elements_aligned(h->counts(), base));
}

}  // namespace

int send_message(int sock, std::span<const std::uint8_t> bytes, std::span<const int> fds) {
  if (bytes.size() > kMaxMessageBytes || fds.size() > kMaxFdsPerMessage) return -EMSGSIZE;
  iovec iov{const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
  msghdr hdr{};
  hdr.msg_iov = &iov;
  hdr.msg_iovlen = 1;
  alignas(cmsghdr) std::uint8_t control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)]{};
  if (!fds.empty()) {
    hdr.msg_control = control;
    hdr.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&hdr);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &hdr, MSG_NOSIGNAL);
    if (n >= 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

RecvBuffer::RecvBuffer() : data(kMaxMessageBytes) { prepare(); }

void RecvBuffer::prepare() {
  iov = {data.data(), data.size()};
  hdr = {};
  hdr.msg_iov = &iov;
  hdr.msg_iovlen = 1;
  hdr.msg_control = control;
  hdr.msg_controllen = sizeof(control);
}

int RecvBuffer::finish(int n, ReceivedMessage& out) {
  out.bytes.clear();
  out.fds.clear();
  if (n < 0) return n;
  const bool control_ok = take_fds(hdr, out.fds);
  if (hdr.msg_flags & MSG_TRUNC) {
    out.fds.clear();
    return -EMSGSIZE;
  }
  if ((hdr.msg_flags & MSG_CTRUNC) || !control_ok) {
    out.fds.clear();
    return -EPROTO;
  }
  out.bytes.assign(data.begin(), data.begin() + n);
  return n;
}

int recv_message(int sock, ReceivedMessage& out, int flags) {
  RecvBuffer buf;
  for (;;) {
    const ssize_t n = ::recvmsg(sock, &buf.hdr, flags | MSG_CMSG_CLOEXEC);
    if (n >= 0) return buf.finish(static_cast<int>(n), out);
    if (errno != EINTR) return -errno;
  }
}

const Message* verify(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < sizeof(flatbuffers::uoffset_t) || bytes.size() > kMaxMessageBytes) {
    return nullptr;
  }
  // Control messages are shallow and small: depth 8 and 4096 tables bound the
  // verifier's work well below anything a hostile peer could exploit.
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), /*max_depth=*/8,
                                 /*max_tables=*/4096);
  if (!VerifyMessageBuffer(verifier)) return nullptr;
  const Message* msg = GetMessage(bytes.data());
  if (const StatsReply* s = msg->body_as_StatsReply()) {
    if (!histogram_aligned(s->latency(), bytes.data())) return nullptr;
    if (s->sessions() != nullptr) {
      for (const SessionStats* session : *s->sessions()) {
        if (!histogram_aligned(session->latency(), bytes.data())) return nullptr;
      }
    }
  }
  return msg;
}

}  // namespace aiod::wire
