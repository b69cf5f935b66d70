// SPDX-License-Identifier: MIT
// descriptor_gen.hpp — structure-aware generation of operation descriptors
// and of the arena structures they point at, shared by the in-process and the
// live-daemon descriptor fuzzers.
//
// Generation starts from a valid descriptor for an opcode (fields the opcode
// uses, buffers and structures inside the arena, handles from the pool) and
// then mutates a few fields towards the values validation must get right:
// boundaries of the arena, unknown opcodes and flags, reserved fields, bad
// handles, huge lengths. Arena structures (iovec tables, msghdrs, socket
// addresses, control data, paths) are laid out at fixed offsets and mutated
// the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "aiod_shm.h"
#include "fuzz_support.hpp"

namespace aiod::fuzz {

// Where the structures live in the arena (the arena is at least 64 KiB).
struct ArenaMap {
  static constexpr std::uint64_t kData = 0;  // 8 KiB of plain buffer
  static constexpr std::uint64_t kDataBytes = 8192;
  static constexpr std::uint64_t kPaths = 8192;  // kPathCount paths, 256 bytes apart
  static constexpr std::uint32_t kPathCount = 8;
  static constexpr std::uint64_t kIovecs = 10240;  // up to kIovecCount aiod_iovec
  static constexpr std::uint32_t kIovecCount = 64;
  static constexpr std::uint64_t kMsghdr = 11264;    // aiod_msghdr
  static constexpr std::uint64_t kSockaddr = 11392;  // 128 bytes
  static constexpr std::uint64_t kName = 11520;      // 128 bytes: recv_msg's name room
  static constexpr std::uint64_t kControl = 11776;   // 512 bytes of cmsgs
  static constexpr std::uint64_t kControlBytes = 512;
  static constexpr std::uint64_t kStatx = 12288;        // 256 bytes
  static constexpr std::uint64_t kSockaddrOut = 12544;  // aiod_sockaddr_out
  static constexpr std::uint64_t kLongPath = 16384;     // up to 5000 bytes, no NUL
  static constexpr std::uint64_t kMinArena = 64 * 1024;
  // Length of path i (without NUL), as write_arena() lays it out.
  static std::uint32_t path_length(std::uint32_t i);
};

// What the handles of a session name; the generator picks by kind.
enum class HandleKind : std::uint8_t { file, pipe_read, pipe_write, socket, eventfd, directory };

struct HandlePool {
  struct Entry {
    std::uint32_t handle;
    HandleKind kind;
  };
  std::vector<Entry> entries;
  // Handles that exist in no table of this session (another session's, closed).
  std::vector<std::uint32_t> foreign;
  std::uint32_t any(Rng& rng) const;
  std::uint32_t of(Rng& rng, HandleKind kind) const;
};

struct GenOptions {
  // Addresses stay on loopback or abstract unix sockets, socket domains and
  // types stay ordinary, allocation lengths stay small, paths are relative or
  // confined: for descriptors a real daemon executes. The in-process fuzzer
  // mutates without these limits.
  bool live = false;
  // user_data values a CANCEL may name.
  std::span<const std::uint64_t> cancel_targets;
};

// Writes valid structures at every ArenaMap offset (live: with loopback
// addresses and a data pattern that is no valid address family).
void write_arena(Rng& rng, std::span<std::byte> arena, const GenOptions& opt);
// Mutates a few of those structures in place.
void mutate_arena(Rng& rng, std::span<std::byte> arena, const HandlePool& pool, const GenOptions& opt);

// A valid descriptor for `opcode` (user_data 0, flags 0).
aiod_sqe valid_descriptor(Rng& rng, std::uint8_t opcode, std::uint64_t arena_size, const HandlePool& pool,
                          const GenOptions& opt);
// Mutates 1 to 3 fields of `s` (not user_data).
void mutate_descriptor(Rng& rng, aiod_sqe& s, std::uint64_t arena_size, const HandlePool& pool);
// An opcode, mostly known, sometimes unknown.
std::uint8_t random_opcode(Rng& rng);
// Keeps a mutated descriptor harmless to the host when a daemon runs it (see
// GenOptions::live); the descriptor stays as malformed as it was otherwise.
void make_live_safe(aiod_sqe& s);

// A batch of `n` descriptors in chains of 1 to 5 (soft and hard links, link
// timeouts after linked ops, and sometimes both link bits), about one in
// `mutate_one_in` mutated. The last descriptor ends its chain. user_data is
// first_user_data, first_user_data + 1, ...
std::vector<aiod_sqe> random_batch(Rng& rng, std::uint32_t n, std::uint64_t first_user_data, std::uint64_t arena_size,
                                   const HandlePool& pool, const GenOptions& opt, std::uint32_t mutate_one_in);

}  // namespace aiod::fuzz
