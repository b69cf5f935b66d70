// SPDX-License-Identifier: MIT
// message_gen.hpp — control messages for the fuzzers: valid messages of
// every body type with random field values, byte-level mutations aimed at
// flatbuffers' offsets and lengths, and a raw datagram sender that can break
// the framing rules (oversized, too many descriptors, credentials).
#pragma once

#include <cstdint>
#include <vector>

#include "fuzz_support.hpp"
#include "wire.hpp"

namespace aiod::fuzz {

// A valid Message of a random body type (sometimes none, sometimes unknown).
std::vector<std::uint8_t> valid_message(Rng& rng);
// A valid Message with the given body, fields random.
std::vector<std::uint8_t> message_of(Rng& rng, wire::Body type);
// 1 to 4 mutations: bytes, aligned offsets and vtable entries set to boundary
// values, truncation, garbage appended, the identifier or root offset changed.
void mutate_bytes(Rng& rng, std::vector<std::uint8_t>& buf);

// Sends `bytes` with `nfds` descriptors of /dev/null (any number, even more
// than a receiver accepts) and optionally SCM_CREDENTIALS. Returns the bytes
// sent or -errno.
long send_datagram(int sock, const std::vector<std::uint8_t>& bytes, std::size_t nfds, bool credentials);

}  // namespace aiod::fuzz
