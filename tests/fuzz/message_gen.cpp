// SPDX-License-Identifier: MIT
#include "message_gen.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace aiod::fuzz {

using namespace aiod::wire;

namespace {

std::string random_string(Rng& rng) {
  std::string s(rng.below(rng.chance(1, 8) ? 300 : 24), 'x');
  for (char& c : s) c = static_cast<char>(rng.below(256));
  return s;
}

flatbuffers::Offset<Counters> random_counters(flatbuffers::FlatBufferBuilder& b, Rng& rng) {
  return CreateCounters(b, rng.next(), rng.next(), rng.next(), rng.next(), rng.next(), rng.next(), rng.next(),
                        rng.next(), rng.next(), rng.next());
}

flatbuffers::Offset<Histogram> random_histogram(flatbuffers::FlatBufferBuilder& b, Rng& rng) {
  std::vector<std::uint64_t> bounds(rng.below(6)), counts(rng.below(7));
  for (auto& v : bounds) v = rng.next();
  for (auto& v : counts) v = rng.next();
  return CreateHistogramDirect(b, &bounds, &counts, rng.next(), rng.next());
}

std::vector<flatbuffers::Offset<OpcodeCount>> random_opcodes(flatbuffers::FlatBufferBuilder& b, Rng& rng) {
  std::vector<flatbuffers::Offset<OpcodeCount>> v;
  for (std::uint64_t i = rng.below(4); i > 0; --i) {
    v.push_back(CreateOpcodeCountDirect(b, static_cast<std::uint8_t>(rng.next()), random_string(rng).c_str(),
                                        rng.next(), rng.next()));
  }
  return v;
}

}  // namespace

std::vector<std::uint8_t> valid_message(Rng& rng) {
  return message_of(rng, static_cast<Body>(rng.below(static_cast<std::uint64_t>(Body::MAX) + 1)));
}

std::vector<std::uint8_t> message_of(Rng& rng, Body type) {
  flatbuffers::FlatBufferBuilder b(256);
  flatbuffers::Offset<void> body;
  switch (type) {
    case Body::Hello:
      body = CreateHelloDirect(b, static_cast<std::uint32_t>(rng.next()), static_cast<SessionKind>(rng.below(3)),
                               static_cast<std::uint32_t>(rng.next()), rng.next(), random_string(rng).c_str(),
                               static_cast<std::uint32_t>(rng.next()))
                 .Union();
      break;
    case Body::Welcome:
      body = CreateWelcomeDirect(b, 1, rng.next(), random_string(rng).c_str(), "io_uring",
                                 static_cast<std::uint32_t>(rng.next()), static_cast<std::uint32_t>(rng.next()),
                                 rng.next(), rng.next(), rng.next(), rng.next(), rng.next(), rng.next(),
                                 static_cast<std::uint32_t>(rng.next()))
                 .Union();
      break;
    case Body::RegisterFds:
      body = CreateRegisterFds(b, static_cast<std::uint32_t>(rng.next())).Union();
      break;
    case Body::RegisterFdsReply:
    case Body::UnregisterHandles: {
      std::vector<std::uint32_t> h(rng.below(20));
      for (auto& v : h) v = static_cast<std::uint32_t>(rng.next());
      body = type == Body::RegisterFdsReply ? CreateRegisterFdsReplyDirect(b, &h).Union()
                                            : CreateUnregisterHandlesDirect(b, &h).Union();
      break;
    }
    case Body::Ping:
      body = CreatePing(b, rng.next()).Union();
      break;
    case Body::Pong:
      body = CreatePong(b, rng.next()).Union();
      break;
    case Body::StatsRequest:
      body = CreateStatsRequest(b, rng.chance(1, 2), rng.next()).Union();
      break;
    case Body::StatsReply: {
      std::vector<flatbuffers::Offset<SessionStats>> sessions;
      for (std::uint64_t i = rng.below(4); i > 0; --i) {
        const auto c = random_counters(b, rng);
        const auto per = random_opcodes(b, rng);
        const auto h = random_histogram(b, rng);
        sessions.push_back(CreateSessionStatsDirect(
            b, rng.next(), static_cast<int>(rng.next()), static_cast<std::uint32_t>(rng.next()),
            static_cast<std::uint32_t>(rng.next()), random_string(rng).c_str(), 0, c, &per, h));
      }
      const auto totals = random_counters(b, rng);
      const auto per = random_opcodes(b, rng);
      const auto h = random_histogram(b, rng);
      body = CreateStatsReplyDirect(b, 1, "0.1.0", "io_uring", rng.next(), 2, 3, rng.next(), totals, &per, h, &sessions,
                                    rng.next(), rng.next(), rng.next(), rng.next())
                 .Union();
      break;
    }
    case Body::Ack:
      body = CreateAck(b).Union();
      break;
    case Body::Error:
      body = CreateErrorDirect(b, static_cast<int>(rng.next()), random_string(rng).c_str()).Union();
      break;
    default:
      type = Body::NONE;
      break;
  }
  if (rng.chance(1, 16)) type = static_cast<Body>(static_cast<std::uint8_t>(Body::MAX) + 1 + rng.below(200));
  b.Finish(CreateMessage(b, rng.next(), body.IsNull() ? Body::NONE : type, body), MessageIdentifier());
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

void mutate_bytes(Rng& rng, std::vector<std::uint8_t>& buf) {
  const int n = 1 + static_cast<int>(rng.below(4));
  for (int i = 0; i < n && !buf.empty(); ++i) {
    switch (rng.below(7)) {
      case 0:  // one byte
        buf[rng.below(buf.size())] ^= static_cast<std::uint8_t>(1 + rng.below(255));
        break;
      case 1: {  // an aligned 32-bit word (offsets, lengths, vtable entries) to a boundary value
        if (buf.size() < 4) break;
        const std::uint32_t v = boundary32(rng, static_cast<std::uint32_t>(buf.size()));
        std::memcpy(&buf[rng.below(buf.size() / 4) * 4], &v, 4);
        break;
      }
      case 2: {  // a 16-bit vtable field
        if (buf.size() < 2) break;
        const auto v = static_cast<std::uint16_t>(boundary32(rng, static_cast<std::uint32_t>(buf.size())));
        std::memcpy(&buf[rng.below(buf.size() / 2) * 2], &v, 2);
        break;
      }
      case 3:  // truncated
        buf.resize(rng.below(buf.size() + 1));
        break;
      case 4:  // extended with garbage
        for (std::uint64_t k = 1 + rng.below(64); k > 0; --k) buf.push_back(static_cast<std::uint8_t>(rng.next()));
        break;
      case 5:  // the identifier
        if (buf.size() >= 8) buf[4 + rng.below(4)] ^= static_cast<std::uint8_t>(1 + rng.below(255));
        break;
      default:  // the root offset
        if (buf.size() >= 4) {
          const std::uint32_t v = boundary32(rng, static_cast<std::uint32_t>(buf.size()));
          std::memcpy(buf.data(), &v, 4);
        }
        break;
    }
  }
}

long send_datagram(int sock, const std::vector<std::uint8_t>& bytes, std::size_t nfds, bool credentials) {
  std::vector<int> fds;
  for (std::size_t i = 0; i < nfds; ++i) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  std::vector<std::uint8_t> control(CMSG_SPACE(sizeof(int) * (nfds + 1)) + CMSG_SPACE(sizeof(ucred)));
  iovec iov{const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  if (nfds > 0 || credentials) {
    h.msg_control = control.data();
    h.msg_controllen = control.size();
    std::size_t used = 0;
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    if (credentials) {
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_CREDENTIALS;
      c->cmsg_len = CMSG_LEN(sizeof(ucred));
      const ucred u{::getpid(), ::getuid(), ::getgid()};
      std::memcpy(CMSG_DATA(c), &u, sizeof(u));
      used += CMSG_SPACE(sizeof(ucred));
      c = CMSG_NXTHDR(&h, c);
    }
    if (nfds > 0) {
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * nfds);
      used += CMSG_SPACE(sizeof(int) * nfds);
    }
    h.msg_controllen = used;
  }
  const ssize_t n = ::sendmsg(sock, &h, MSG_NOSIGNAL);
  const int err = errno;
  for (int fd : fds) ::close(fd);
  return n < 0 ? -err : n;
}

}  // namespace aiod::fuzz
