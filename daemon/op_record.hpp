// op_record.hpp — the daemon's private record of one consumed descriptor.
//
// Created when a descriptor is consumed, freed when its completion is posted:
// the record is what makes "exactly one completion per descriptor" hold. The
// backend op inside points only at memory the record owns (paths, timespecs)
// or at the session's arena, both alive until the record completes.
#pragma once

#include <linux/openat2.h>
#include <linux/time_types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.hpp"

namespace aiod::daemon {

class Session;
struct Chain;

// What the daemon itself does when the backend part of an op finishes.
enum class Finish : std::uint8_t {
  plain,         // post the backend's result
  new_handle,    // the result is a descriptor: turn it into a handle
  timer,         // -ETIME (expiry) is success
  close_handle,  // the backend ran a placeholder; close the handle now
};

struct OpRecord final : public Completion {
  void complete(int res) override;

  Session* session = nullptr;
  Chain* chain = nullptr;       // null for an unlinked op
  std::uint32_t chain_index = 0;
  std::uint64_t user_data = 0;  // the client's, returned in the completion
  std::uint64_t start_ns = 0;   // when the descriptor was consumed
  std::uint8_t opcode = 0;      // aiod_opcode
  Link link = Link::none;       // link to the next descriptor of the chain
  Finish finish = Finish::plain;
  bool in_backend = false;      // handed to the backend, result pending
  std::uint32_t handle = 0;     // handle referenced (released at completion), or 0
  BackendOp op;

  // Storage the backend op may point at.
  open_how how{};
  __kernel_timespec ts{};
  std::string path;

  OpRecord* next_free = nullptr;
};

// A linked chain of records, run segment by segment. A segment is a run of ops
// the backend links natively (one prepare batch); the chain moves to the next
// segment when every op of the current one has completed. Once an op with a
// soft link fails, every later op completes with -ECANCELED (io_uring's rule,
// also across segments).
struct Chain {
  std::vector<OpRecord*> ops;
  std::uint32_t next = 0;         // first op not handed to the backend yet
  std::uint32_t segment_end = 0;  // one past the current segment's last op
  std::uint32_t outstanding = 0;  // ops of the current segment still pending
  std::uint32_t completed = 0;    // ops of the whole chain completed
  bool broken = false;
};

}  // namespace aiod::daemon
