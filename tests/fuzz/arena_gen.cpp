// SPDX-License-Identifier: MIT
// arena_gen.cpp — the arena half of descriptor_gen.hpp: valid structures at
// the ArenaMap offsets (paths, iovec tables, a msghdr, socket addresses,
// control data) and their mutations.
#include "descriptor_gen.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <array>
#include <cstring>

namespace aiod::fuzz {
namespace {

template <typename T>
void put(std::span<std::byte> arena, std::uint64_t off, const T& v) {
  if (off <= arena.size() && sizeof(T) <= arena.size() - off) std::memcpy(arena.data() + off, &v, sizeof(T));
}

template <typename T>
T get(std::span<std::byte> arena, std::uint64_t off) {
  T v{};
  if (off <= arena.size() && sizeof(T) <= arena.size() - off) std::memcpy(&v, arena.data() + off, sizeof(T));
  return v;
}

const char* const kPathText[ArenaMap::kPathCount] = {"f0", "sub/f1", "/abs", "../up", ".", "f0/not-dir", "x\x01y", "/"};

}  // namespace

std::uint32_t ArenaMap::path_length(std::uint32_t i) { return static_cast<std::uint32_t>(std::strlen(kPathText[i])); }

namespace {

std::uint32_t sockaddr_len_of(std::span<std::byte> arena) {
  switch (get<sa_family_t>(arena, ArenaMap::kSockaddr)) {
    case AF_INET:
      return sizeof(sockaddr_in);
    case AF_INET6:
      return sizeof(sockaddr_in6);
    default:
      return offsetof(sockaddr_un, sun_path) + 12;
  }
}

void write_sockaddr(Rng& rng, std::span<std::byte> arena) {
  std::array<std::byte, 128> raw{};
  switch (rng.below(4)) {
    case 0: {
      sockaddr_in in{};
      in.sin_family = AF_INET;
      in.sin_port = htons(static_cast<std::uint16_t>(rng.below(65536)));
      in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      std::memcpy(raw.data(), &in, sizeof(in));
      break;
    }
    case 1: {
      sockaddr_in6 in6{};
      in6.sin6_family = AF_INET6;
      in6.sin6_port = htons(static_cast<std::uint16_t>(rng.below(65536)));
      in6.sin6_addr = in6addr_loopback;
      std::memcpy(raw.data(), &in6, sizeof(in6));
      break;
    }
    case 2: {
      sockaddr_un un{};
      un.sun_family = AF_UNIX;
      std::memcpy(un.sun_path, "\0aiod-fuzz-", 11);  // abstract
      un.sun_path[11] = static_cast<char>('a' + rng.below(4));
      std::memcpy(raw.data(), &un, sizeof(un.sun_family) + 12);
      break;
    }
    default: {
      sockaddr_un un{};
      un.sun_family = AF_UNIX;
      const char* path = rng.chance(1, 2) ? "/fuzz.sock" : "rel.sock";
      std::memcpy(un.sun_path, path, std::strlen(path) + 1);
      std::memcpy(raw.data(), &un, sizeof(un.sun_family) + std::strlen(path) + 1);
      break;
    }
  }
  std::memcpy(arena.data() + ArenaMap::kSockaddr, raw.data(), raw.size());
}

void write_control(Rng& rng, std::span<std::byte> arena, const HandlePool& pool) {
  std::array<std::byte, ArenaMap::kControlBytes> buf{};
  msghdr m{};
  m.msg_control = buf.data();
  m.msg_controllen = buf.size();
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  const std::size_t n = 1 + rng.below(3);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(n * sizeof(int));
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t h = pool.any(rng);
    std::memcpy(CMSG_DATA(c) + i * sizeof(int), &h, sizeof(h));
  }
  std::memcpy(arena.data() + ArenaMap::kControl, buf.data(), buf.size());
}

}  // namespace

std::uint32_t HandlePool::any(Rng& rng) const {
  if (!foreign.empty() && rng.chance(1, 8)) return foreign[rng.below(foreign.size())];
  if (entries.empty()) return static_cast<std::uint32_t>(1 + rng.below(8));
  return entries[rng.below(entries.size())].handle;
}

std::uint32_t HandlePool::of(Rng& rng, HandleKind kind) const {
  std::uint32_t found[16];
  std::size_t n = 0;
  for (const Entry& e : entries) {
    if (e.kind == kind && n < std::size(found)) found[n++] = e.handle;
  }
  return n == 0 ? any(rng) : found[rng.below(n)];
}

void write_arena(Rng& rng, std::span<std::byte> arena, const GenOptions& opt) {
  // Live: a filler whose bytes read as no address family, so data the kernel
  // moves around never turns into an address outside loopback.
  if (opt.live) {
    std::memset(arena.data(), 'A', ArenaMap::kMinArena);
  } else {
    rng.fill(arena.subspan(0, ArenaMap::kDataBytes));
  }
  for (std::uint32_t i = 0; i < ArenaMap::kPathCount; ++i) {
    std::memset(arena.data() + ArenaMap::kPaths + i * 256, 0, 256);
    std::memcpy(arena.data() + ArenaMap::kPaths + i * 256, kPathText[i], ArenaMap::path_length(i));
  }
  for (std::uint32_t i = 0; i < ArenaMap::kIovecCount; ++i) {
    put(arena, ArenaMap::kIovecs + i * sizeof(aiod_iovec),
        aiod_iovec{.offset = ArenaMap::kData + i * 64, .len = rng.below(65)});
  }
  write_sockaddr(rng, arena);
  std::memset(arena.data() + ArenaMap::kControl, 0, ArenaMap::kControlBytes);
  const bool with_control = rng.chance(1, 3);
  const bool with_name = rng.chance(1, 2);
  put(arena, ArenaMap::kMsghdr,
      aiod_msghdr{.name = with_name ? ArenaMap::kSockaddr : 0,
                  .name_len = with_name ? sockaddr_len_of(arena) : 0,
                  .flags = 0,
                  .iov = ArenaMap::kIovecs,
                  .iov_count = static_cast<std::uint32_t>(rng.below(9)),
                  .reserved = 0,
                  .control = with_control ? ArenaMap::kControl : 0,
                  .control_len = with_control ? 64u : 0u});
  std::memset(arena.data() + ArenaMap::kLongPath, 'p', 5000);
}

void mutate_arena(Rng& rng, std::span<std::byte> arena, const HandlePool& pool, const GenOptions& opt) {
  const std::uint64_t size = arena.size();
  const int rounds = 1 + static_cast<int>(rng.below(4));
  for (int r = 0; r < rounds; ++r) {
    switch (rng.below(10)) {
      case 0: {  // an iovec pointing anywhere, with any length
        const std::uint64_t at = ArenaMap::kIovecs + rng.below(ArenaMap::kIovecCount) * sizeof(aiod_iovec);
        auto v = get<aiod_iovec>(arena, at);
        if (rng.chance(1, 2))
          v.offset = boundary64(rng, size);
        else
          v.len = boundary64(rng, size);
        put(arena, at, v);
        break;
      }
      case 1: {  // an iovec pointing at the table itself, or overlapping another
        const std::uint64_t at = ArenaMap::kIovecs + rng.below(8) * sizeof(aiod_iovec);
        put(arena, at, aiod_iovec{.offset = ArenaMap::kIovecs + rng.below(64), .len = rng.below(256)});
        break;
      }
      case 2: {  // msghdr fields at their boundaries
        auto h = get<aiod_msghdr>(arena, ArenaMap::kMsghdr);
        switch (rng.below(7)) {
          case 0:
            h.name = boundary64(rng, size);
            break;
          case 1:
            h.name_len = boundary32(rng, 128);
            break;
          case 2:
            h.iov = boundary64(rng, size);
            break;
          case 3:
            h.iov_count = boundary32(rng, AIOD_IOV_MAX);
            break;
          case 4:
            h.reserved = static_cast<std::uint32_t>(rng.next()) | 1;
            break;
          case 5:
            h.control = boundary64(rng, size);
            break;
          default:
            h.control_len = boundary64(rng, 64 * 1024);
            break;
        }
        put(arena, ArenaMap::kMsghdr, h);
        break;
      }
      case 3: {  // a socket address with a strange family or a path without NUL
        if (rng.chance(1, 2)) {
          put(arena, ArenaMap::kSockaddr, static_cast<sa_family_t>(rng.chance(1, 2) ? AF_MAX + rng.below(8) : AF_UNIX));
        } else {
          std::memset(arena.data() + ArenaMap::kSockaddr + sizeof(sa_family_t), '/', 126);
        }
        break;
      }
      case 4: {  // control data: lengths that lie, credentials, foreign handles
        write_control(rng, arena, pool);
        auto len = get<std::uint64_t>(arena, ArenaMap::kControl);
        switch (rng.below(5)) {
          case 0:
            len = boundary64(rng, ArenaMap::kControlBytes);
            break;
          case 1:
            put(arena, ArenaMap::kControl + 12, static_cast<int>(SCM_CREDENTIALS));
            break;
          case 2:
            put(arena, ArenaMap::kControl + 8, static_cast<int>(rng.next()));
            break;
          case 3:
            put(arena, ArenaMap::kControl + CMSG_LEN(0), boundary32(rng, 1 << 16));
            break;
          default:
            len = CMSG_LEN(rng.below(64));
            break;
        }
        put(arena, ArenaMap::kControl, len);
        auto h = get<aiod_msghdr>(arena, ArenaMap::kMsghdr);
        h.control = ArenaMap::kControl;
        h.control_len = rng.chance(3, 4) ? 64 : boundary64(rng, ArenaMap::kControlBytes);
        put(arena, ArenaMap::kMsghdr, h);
        break;
      }
      case 5: {  // a NUL inside a path, or no terminator anywhere near
        const std::uint64_t at = ArenaMap::kPaths + rng.below(ArenaMap::kPathCount) * 256 + rng.below(8);
        arena[at] = rng.chance(1, 2) ? std::byte{0} : std::byte{'z'};
        break;
      }
      case 6:  // random bytes over one structure
        if (!opt.live) {
          const std::uint64_t starts[] = {ArenaMap::kIovecs, ArenaMap::kMsghdr, ArenaMap::kSockaddr, ArenaMap::kControl,
                                          ArenaMap::kPaths};
          rng.fill(arena.subspan(starts[rng.below(std::size(starts))], 48));
        }
        break;
      case 7:  // the structure at the very end of the arena
        put(arena, size - sizeof(aiod_iovec), aiod_iovec{.offset = size - 1, .len = rng.below(3)});
        break;
      default: {
        auto h = get<aiod_msghdr>(arena, ArenaMap::kMsghdr);
        h.iov_count = static_cast<std::uint32_t>(rng.below(ArenaMap::kIovecCount + 1));
        put(arena, ArenaMap::kMsghdr, h);
        break;
      }
    }
  }
}

}  // namespace aiod::fuzz
