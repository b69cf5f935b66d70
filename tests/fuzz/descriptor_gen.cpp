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

const char* const kPaths[ArenaMap::kPathCount] = {"f0", "sub/f1", "/abs", "../up", ".", "f0/not-dir", "x\x01y", "/"};

std::uint32_t path_len(std::uint32_t i) { return static_cast<std::uint32_t>(std::strlen(kPaths[i])); }

// A small, sometimes broken, range inside the data buffer.
std::uint64_t data_off(Rng& rng) { return ArenaMap::kData + rng.below(ArenaMap::kDataBytes / 2); }
std::uint32_t data_len(Rng& rng) { return static_cast<std::uint32_t>(rng.below(ArenaMap::kDataBytes / 2)); }

std::uint32_t sockaddr_len_of(std::span<std::byte> arena) {
  switch (get<sa_family_t>(arena, ArenaMap::kSockaddr)) {
    case AF_INET: return sizeof(sockaddr_in);
    case AF_INET6: return sizeof(sockaddr_in6);
    default: return offsetof(sockaddr_un, sun_path) + 12;
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
    std::memcpy(arena.data() + ArenaMap::kPaths + i * 256, kPaths[i], path_len(i));
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
        if (rng.chance(1, 2)) v.offset = boundary64(rng, size); else v.len = boundary64(rng, size);
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
          case 0: h.name = boundary64(rng, size); break;
          case 1: h.name_len = boundary32(rng, 128); break;
          case 2: h.iov = boundary64(rng, size); break;
          case 3: h.iov_count = boundary32(rng, AIOD_IOV_MAX); break;
          case 4: h.reserved = static_cast<std::uint32_t>(rng.next()) | 1; break;
          case 5: h.control = boundary64(rng, size); break;
          default: h.control_len = boundary64(rng, 64 * 1024); break;
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
          case 0: len = boundary64(rng, ArenaMap::kControlBytes); break;
          case 1: put(arena, ArenaMap::kControl + 12, static_cast<int>(SCM_CREDENTIALS)); break;
          case 2: put(arena, ArenaMap::kControl + 8, static_cast<int>(rng.next())); break;
          case 3: put(arena, ArenaMap::kControl + CMSG_LEN(0), boundary32(rng, 1 << 16)); break;
          default: len = CMSG_LEN(rng.below(64)); break;
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
          const std::uint64_t starts[] = {ArenaMap::kIovecs, ArenaMap::kMsghdr, ArenaMap::kSockaddr,
                                          ArenaMap::kControl, ArenaMap::kPaths};
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

std::uint8_t random_opcode(Rng& rng) {
  if (rng.chance(1, 32)) return static_cast<std::uint8_t>(AIOD_OP_LAST + rng.below(256 - AIOD_OP_LAST));
  return static_cast<std::uint8_t>(rng.below(AIOD_OP_LAST));
}

aiod_sqe valid_descriptor(Rng& rng, std::uint8_t opcode, std::uint64_t arena_size, const HandlePool& pool,
                          const GenOptions& opt) {
  aiod_sqe s{};
  s.opcode = opcode;
  const std::uint32_t path = static_cast<std::uint32_t>(rng.below(ArenaMap::kPathCount));
  const std::uint32_t path2 = static_cast<std::uint32_t>(rng.below(ArenaMap::kPathCount));
  auto set_path = [&](std::uint64_t& addr, std::uint32_t& len, std::uint32_t i) {
    addr = ArenaMap::kPaths + i * 256;
    len = path_len(i);
  };
  const std::uint64_t small_ns = rng.below(200'000);
  switch (opcode) {
    case AIOD_OP_NOP:
      break;
    case AIOD_OP_READ:
    case AIOD_OP_WRITE:
    case AIOD_OP_READ_TTY: {
      const HandleKind k = opcode == AIOD_OP_READ || opcode == AIOD_OP_READ_TTY
                               ? (rng.chance(1, 2) ? HandleKind::file : HandleKind::pipe_read)
                               : (rng.chance(1, 2) ? HandleKind::file : HandleKind::pipe_write);
      s.handle = pool.of(rng, k);
      s.addr = data_off(rng);
      s.len = data_len(rng);
      if (opcode != AIOD_OP_READ_TTY) s.off = rng.chance(1, 2) ? AIOD_OFFSET_CURRENT : rng.below(1 << 16);
      break;
    }
    case AIOD_OP_READV:
    case AIOD_OP_WRITEV:
      s.handle = pool.of(rng, rng.chance(1, 2) ? HandleKind::file : HandleKind::socket);
      s.addr = ArenaMap::kIovecs;
      s.len = static_cast<std::uint32_t>(1 + rng.below(8));
      s.off = rng.chance(1, 2) ? AIOD_OFFSET_CURRENT : rng.below(4096);
      break;
    case AIOD_OP_FSYNC:
      s.handle = pool.of(rng, HandleKind::file);
      s.op_flags = static_cast<std::uint32_t>(rng.below(2));
      break;
    case AIOD_OP_TIMEOUT:
    case AIOD_OP_LINK_TIMEOUT:
      s.off = small_ns;
      break;
    case AIOD_OP_OPEN_AT:
    case AIOD_OP_OPENAT2: {
      s.handle = rng.chance(1, 2) ? AIOD_HANDLE_CWD : pool.of(rng, HandleKind::directory);
      set_path(s.addr, s.len, path);
      const std::uint32_t flags[] = {O_RDONLY, O_RDWR | O_CREAT, O_WRONLY | O_CREAT | O_TRUNC, O_PATH,
                                     O_RDONLY | O_DIRECTORY, O_TMPFILE | O_RDWR, O_RDONLY | O_NOFOLLOW};
      s.op_flags = flags[rng.below(std::size(flags))];
      if ((s.op_flags & O_CREAT) || (s.op_flags & O_TMPFILE) == O_TMPFILE) s.mode = 0600;
      if (opcode == AIOD_OP_OPENAT2) {
        const std::uint64_t resolve[] = {0, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS,
                                         RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
        s.off = resolve[rng.below(std::size(resolve))];
      }
      break;
    }
    case AIOD_OP_CLOSE_FILE:
      s.handle = pool.of(rng, HandleKind::file);
      break;
    case AIOD_OP_CLOSE_DIR:
      s.handle = pool.of(rng, HandleKind::directory);
      break;
    case AIOD_OP_CLOSE_SOCKET:
      s.handle = pool.of(rng, HandleKind::socket);
      break;
    case AIOD_OP_CLOSE_EVENT_SOURCE:
      s.handle = pool.of(rng, HandleKind::eventfd);
      break;
    case AIOD_OP_POLL:
      s.handle = pool.any(rng);
      s.op_flags = rng.chance(1, 2) ? POLLIN : POLLOUT;
      break;
    case AIOD_OP_ACCEPT:
      s.handle = pool.of(rng, HandleKind::socket);
      s.op_flags = rng.chance(1, 2) ? static_cast<std::uint32_t>(SOCK_NONBLOCK) : 0u;
      if (rng.chance(1, 2)) {
        s.addr2 = ArenaMap::kSockaddrOut;
        s.len2 = sizeof(aiod_sockaddr_out);
      }
      break;
    case AIOD_OP_CONNECT:
    case AIOD_OP_BIND:
      s.handle = pool.of(rng, HandleKind::socket);
      s.addr = ArenaMap::kSockaddr;
      s.len = static_cast<std::uint32_t>(rng.chance(3, 4) ? 16 + rng.below(13) : 1 + rng.below(128));
      break;
    case AIOD_OP_LISTEN:
      s.handle = pool.of(rng, HandleKind::socket);
      s.op_flags = static_cast<std::uint32_t>(rng.below(16));
      break;
    case AIOD_OP_RECV:
    case AIOD_OP_SEND:
      s.handle = pool.of(rng, HandleKind::socket);
      s.addr = data_off(rng);
      s.len = data_len(rng);
      s.op_flags = rng.chance(1, 2) ? MSG_DONTWAIT : 0;
      break;
    case AIOD_OP_RECV_MSG:
    case AIOD_OP_SEND_MSG:
      s.handle = pool.of(rng, HandleKind::socket);
      s.addr = ArenaMap::kMsghdr;
      s.len = sizeof(aiod_msghdr);
      s.op_flags = rng.chance(1, 2) ? MSG_DONTWAIT : 0;
      break;
    case AIOD_OP_SHUTDOWN:
      s.handle = pool.of(rng, HandleKind::socket);
      s.op_flags = static_cast<std::uint32_t>(rng.below(3));
      break;
    case AIOD_OP_CANCEL:
      s.off = opt.cancel_targets.empty() ? rng.next() : opt.cancel_targets[rng.below(opt.cancel_targets.size())];
      break;
    case AIOD_OP_RENAME_AT:
      s.handle = AIOD_HANDLE_CWD;
      s.off = rng.chance(1, 2) ? AIOD_HANDLE_CWD : pool.of(rng, HandleKind::directory);
      set_path(s.addr, s.len, path);
      set_path(s.addr2, s.len2, path2);
      s.op_flags = rng.chance(1, 4) ? RENAME_NOREPLACE : 0;
      break;
    case AIOD_OP_UNLINK_AT:
      s.handle = rng.chance(1, 2) ? AIOD_HANDLE_CWD : pool.of(rng, HandleKind::directory);
      set_path(s.addr, s.len, path);
      s.op_flags = rng.chance(1, 2) ? AT_REMOVEDIR : 0;
      break;
    case AIOD_OP_MKDIR_AT:
      s.handle = AIOD_HANDLE_CWD;
      set_path(s.addr, s.len, path);
      s.mode = 0700;
      break;
    case AIOD_OP_SYMLINK_AT:
      s.handle = AIOD_HANDLE_CWD;
      set_path(s.addr, s.len, path);
      set_path(s.addr2, s.len2, path2);
      break;
    case AIOD_OP_CHILD_EXIT:
      s.handle = pool.any(rng);
      s.op_flags = static_cast<std::uint32_t>(rng.below(2));
      break;
    case AIOD_OP_SOCKET: {
      const std::uint64_t domains[] = {AF_UNIX, AF_INET, AF_INET6};
      const std::uint32_t types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
      s.off = domains[rng.below(3)];
      s.op_flags = types[rng.below(3)] | (rng.chance(1, 2) ? static_cast<std::uint32_t>(SOCK_NONBLOCK) : 0u);
      break;
    }
    case AIOD_OP_NOTIFY_EVENT_SOURCE:
    case AIOD_OP_WAIT_EVENT_SOURCE:
      s.handle = pool.of(rng, HandleKind::eventfd);
      break;
    case AIOD_OP_SPLICE:
      s.handle = pool.of(rng, rng.chance(1, 2) ? HandleKind::file : HandleKind::pipe_read);
      s.mode = pool.of(rng, HandleKind::pipe_write);
      s.off = rng.chance(1, 2) ? AIOD_OFFSET_CURRENT : rng.below(4096);
      s.addr2 = AIOD_OFFSET_CURRENT;
      s.len = static_cast<std::uint32_t>(rng.below(4096));
      s.op_flags = rng.chance(1, 2) ? SPLICE_F_NONBLOCK : 0;
      break;
    case AIOD_OP_STATX:
      s.handle = AIOD_HANDLE_CWD;
      set_path(s.addr, s.len, path);
      if (rng.chance(1, 4)) {
        s.len = 0;
        s.op_flags = AT_EMPTY_PATH;
      }
      s.mode = STATX_BASIC_STATS;
      s.addr2 = ArenaMap::kStatx;
      s.len2 = sizeof(struct statx);
      break;
    case AIOD_OP_FALLOCATE:
      s.handle = pool.of(rng, HandleKind::file);
      s.off = rng.below(1 << 16);
      s.addr2 = 1 + rng.below(1 << 16);
      break;
    case AIOD_OP_FADVISE:
    case AIOD_OP_SYNC_FILE_RANGE:
      s.handle = pool.of(rng, HandleKind::file);
      s.off = rng.below(1 << 16);
      s.len = static_cast<std::uint32_t>(rng.below(1 << 16));
      s.op_flags = static_cast<std::uint32_t>(rng.below(4));
      break;
    case AIOD_OP_FTRUNCATE:
      s.handle = pool.of(rng, HandleKind::file);
      s.off = rng.below(1 << 16);
      break;
    default:  // an unknown opcode: plausible fields anyway
      s.handle = pool.any(rng);
      s.addr = data_off(rng);
      s.len = data_len(rng);
      break;
  }
  (void)arena_size;
  return s;
}

void mutate_descriptor(Rng& rng, aiod_sqe& s, std::uint64_t arena_size, const HandlePool& pool) {
  const int n = 1 + static_cast<int>(rng.below(3));
  for (int i = 0; i < n; ++i) {
    switch (rng.below(16)) {
      case 0: s.opcode = random_opcode(rng); break;
      case 1: s.flags = static_cast<std::uint8_t>(rng.chance(1, 2) ? 1u << rng.below(8) : rng.below(256)); break;
      case 2: s.reserved0 = static_cast<std::uint16_t>(1 + rng.below(0xffff)); break;
      case 3: s.reserved1 = boundary64(rng, 1) | 1; break;
      case 4: {  // a handle that is not this session's to use
        const std::uint32_t bad[] = {AIOD_HANDLE_INVALID, AIOD_HANDLE_CWD, 0x7fffffffu, 0x80000000u,
                                     pool.any(rng) + (1u << 16), pool.any(rng) + 1, 0xfffeu, 0x10000u};
        s.handle = rng.chance(1, 4) ? pool.any(rng) : bad[rng.below(std::size(bad))];
        break;
      }
      case 5: s.off = boundary64(rng, arena_size); break;
      case 6: s.addr = boundary64(rng, arena_size); break;
      case 7: s.len = boundary32(rng, static_cast<std::uint32_t>(arena_size)); break;
      case 8: s.op_flags = rng.chance(1, 2) ? 1u << rng.below(32) : static_cast<std::uint32_t>(rng.next()); break;
      case 9: s.addr2 = boundary64(rng, arena_size); break;
      case 10: s.len2 = boundary32(rng, static_cast<std::uint32_t>(arena_size)); break;
      case 11: s.mode = rng.chance(1, 2) ? pool.any(rng) : static_cast<std::uint32_t>(boundary64(rng, 07777)); break;
      case 12: {  // a buffer that ends exactly at, or one past, the arena's end
        const std::uint64_t len = 1 + rng.below(4096);
        s.addr = arena_size - len + rng.below(2);
        s.len = static_cast<std::uint32_t>(len);
        break;
      }
      case 13: {  // offset + length that wraps around 2^64
        s.addr = ~std::uint64_t{0} - rng.below(16);
        s.len = static_cast<std::uint32_t>(1 + rng.below(64));
        break;
      }
      case 14: s.addr = ArenaMap::kLongPath; s.len = 4000 + static_cast<std::uint32_t>(rng.below(1000)); break;
      default: {  // one random byte anywhere in the descriptor (user_data excluded)
        auto* bytes = reinterpret_cast<std::uint8_t*>(&s);
        std::size_t at = rng.below(sizeof(s) - 8);
        if (at >= offsetof(aiod_sqe, user_data)) at += 8;
        bytes[at] = static_cast<std::uint8_t>(rng.next());
        break;
      }
    }
  }
}

void make_live_safe(aiod_sqe& s) {
  switch (s.opcode) {
    case AIOD_OP_SOCKET: {
      // Only ordinary sockets: no netlink, packet or raw sockets (the daemon
      // may run as root). Other values become an unknown domain or type.
      if (s.off != AF_UNIX && s.off != AF_INET && s.off != AF_INET6) s.off = 4242;
      const std::uint32_t type = s.op_flags & 0xf;
      if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET) s.op_flags = (s.op_flags & ~0xfu) | 0xe;
      if (s.mode != 0) s.mode = 4242;  // an unknown protocol, never a raw one
      break;
    }
    case AIOD_OP_FALLOCATE:
      // Keep allocations small; huge values (which fail) pass.
      if (s.addr2 > (1u << 20) && s.addr2 < (std::uint64_t{1} << 62)) s.addr2 &= (1u << 20) - 1;
      break;
    default:
      break;
  }
}

std::vector<aiod_sqe> random_batch(Rng& rng, std::uint32_t n, std::uint64_t first_user_data,
                                   std::uint64_t arena_size, const HandlePool& pool, const GenOptions& opt,
                                   std::uint32_t mutate_one_in) {
  std::vector<aiod_sqe> out;
  out.reserve(n);
  while (out.size() < n) {
    const std::uint32_t chain = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(rng.chance(2, 3) ? 1 : 1 + rng.below(5), n - out.size()));
    for (std::uint32_t i = 0; i < chain; ++i) {
      const bool last = i + 1 == chain;
      const bool after_linked = i > 0 && rng.chance(1, 4);
      aiod_sqe s = valid_descriptor(rng, after_linked ? std::uint8_t{AIOD_OP_LINK_TIMEOUT} : random_opcode(rng),
                                    arena_size, pool, opt);
      if (!last) s.flags = rng.chance(3, 4) ? AIOD_SQE_LINK : AIOD_SQE_HARDLINK;
      if (rng.below(mutate_one_in) == 0) mutate_descriptor(rng, s, arena_size, pool);
      if (!last && (s.flags & (AIOD_SQE_LINK | AIOD_SQE_HARDLINK)) == 0) s.flags |= AIOD_SQE_LINK;
      if (last) s.flags &= static_cast<std::uint8_t>(~(AIOD_SQE_LINK | AIOD_SQE_HARDLINK));
      if (opt.live) make_live_safe(s);
      s.user_data = first_user_data + out.size();
      out.push_back(s);
    }
  }
  return out;
}

}  // namespace aiod::fuzz
