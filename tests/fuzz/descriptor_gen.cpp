// SPDX-License-Identifier: MIT
// descriptor_gen.cpp — the descriptor half of descriptor_gen.hpp: a valid
// descriptor per opcode, field mutations, batches of chains, and the limits
// that keep descriptors a live daemon runs harmless to the host.
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

// A small, sometimes broken, range inside the data buffer.
std::uint64_t data_off(Rng& rng) { return ArenaMap::kData + rng.below(ArenaMap::kDataBytes / 2); }
std::uint32_t data_len(Rng& rng) { return static_cast<std::uint32_t>(rng.below(ArenaMap::kDataBytes / 2)); }

}  // namespace

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
    len = ArenaMap::path_length(i);
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
      const std::uint32_t flags[] = {
          O_RDONLY,           O_RDWR | O_CREAT,     O_WRONLY | O_CREAT | O_TRUNC, O_PATH, O_RDONLY | O_DIRECTORY,
          O_TMPFILE | O_RDWR, O_RDONLY | O_NOFOLLOW};
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
      case 0:
        s.opcode = random_opcode(rng);
        break;
      case 1:
        s.flags = static_cast<std::uint8_t>(rng.chance(1, 2) ? 1u << rng.below(8) : rng.below(256));
        break;
      case 2:
        s.reserved0 = static_cast<std::uint16_t>(1 + rng.below(0xffff));
        break;
      case 3:
        s.reserved1 = boundary64(rng, 1) | 1;
        break;
      case 4: {  // a handle that is not this session's to use
        const std::uint32_t bad[] = {AIOD_HANDLE_INVALID,        AIOD_HANDLE_CWD,   0x7fffffffu, 0x80000000u,
                                     pool.any(rng) + (1u << 16), pool.any(rng) + 1, 0xfffeu,     0x10000u};
        s.handle = rng.chance(1, 4) ? pool.any(rng) : bad[rng.below(std::size(bad))];
        break;
      }
      case 5:
        s.off = boundary64(rng, arena_size);
        break;
      case 6:
        s.addr = boundary64(rng, arena_size);
        break;
      case 7:
        s.len = boundary32(rng, static_cast<std::uint32_t>(arena_size));
        break;
      case 8:
        s.op_flags = rng.chance(1, 2) ? 1u << rng.below(32) : static_cast<std::uint32_t>(rng.next());
        break;
      case 9:
        s.addr2 = boundary64(rng, arena_size);
        break;
      case 10:
        s.len2 = boundary32(rng, static_cast<std::uint32_t>(arena_size));
        break;
      case 11:
        s.mode = rng.chance(1, 2) ? pool.any(rng) : static_cast<std::uint32_t>(boundary64(rng, 07777));
        break;
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
      case 14:
        s.addr = ArenaMap::kLongPath;
        s.len = 4000 + static_cast<std::uint32_t>(rng.below(1000));
        break;
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

std::vector<aiod_sqe> random_batch(Rng& rng, std::uint32_t n, std::uint64_t first_user_data, std::uint64_t arena_size,
                                   const HandlePool& pool, const GenOptions& opt, std::uint32_t mutate_one_in) {
  std::vector<aiod_sqe> out;
  out.reserve(n);
  while (out.size() < n) {
    const std::uint32_t chain =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(rng.chance(2, 3) ? 1 : 1 + rng.below(5), n - out.size()));
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
