// SPDX-License-Identifier: MIT
// op_record.hpp — the daemon's private record of one consumed descriptor.
//
// Taken from its session's RecordPool when a descriptor is consumed, given
// back when its completion is posted: the record is what makes "exactly one
// completion per descriptor" hold. The
// backend op inside points only at memory the record owns (paths, timespecs)
// or at the session's arena, both alive until the record completes.
#pragma once

#include <linux/openat2.h>
#include <linux/time_types.h>
#include <sys/socket.h>
#include <sys/uio.h>

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
  accept,        // new_handle, and write the peer address to the arena
  timer,         // -ETIME (expiry) is success
  link_timer,    // -ECANCELED (its op finished first) is success; -ETIME stays
  close_handle,  // the backend ran a placeholder; close the handle now
  close_socket,  // close_handle, after cancelling the ops pending on it
  recv_msg,      // write the message's lengths and flags back; fds become handles
  eventfd_rw,    // 8 bytes moved through an eventfd means success (0)
  child_exit,    // the pidfd polled readable: the child exited (0)
  cancel,        // cancel a queued op (decided when its turn comes) or one in the backend
};

struct OpRecord final : public Completion {
  void complete(int res) override;

  // Back to the state of a record no descriptor has filled yet, keeping the
  // session it belongs to and the capacity of its buffers (but a control
  // buffer larger than kKeptControlBytes: a record must not pin what one
  // message needed). The one place a record is reset (RecordPool::acquire).
  void reset();
  static constexpr std::size_t kKeptControlBytes = 4096;

  Session* session = nullptr;
  Chain* chain = nullptr;  // null for an unlinked op
  std::uint32_t chain_index = 0;
  std::uint64_t user_data = 0;  // the client's, returned in the completion
  std::uint64_t start_ns = 0;   // when the descriptor was consumed
  std::uint8_t opcode = 0;      // aiod_opcode
  Link link = Link::none;       // link to the next descriptor of the chain
  Finish finish = Finish::plain;
  bool in_backend = false;   // handed to the backend, result pending
  bool live = false;         // allocated: consumed, completion not posted yet
  std::uint32_t handle = 0;  // handle referenced (released at completion), or 0
  BackendOp op;

  // Storage the backend op may point at. The side buffers how, ts, addr and
  // msg keep what the record's last op left in them (reset() does not clear
  // them): the prepare that points its op at one writes it whole first, and
  // nothing else reads them.
  open_how how{};
  __kernel_timespec ts{};
  std::string path;
  std::string path2;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  msghdr msg{};
  std::vector<iovec> iov;
  std::vector<std::uint8_t> control;
  std::uint32_t control_charged = 0;  // bytes of `control` counted in the session's share
  std::uint64_t value = 0;            // eventfd counter
  std::uint32_t handle2 = 0;          // a second handle referenced, or 0
  std::vector<std::uint32_t> passed;  // handles referenced by SCM_RIGHTS (send)
  static constexpr std::uint64_t kNoOffset = ~std::uint64_t{0};
  std::uint64_t out_offset = kNoOffset;   // arena offset of a struct to write back
  std::uint64_t out_offset2 = kNoOffset;  // recv_msg: arena offset of the control data
  std::int32_t preset = 0;                // cancel: the result when no kernel op ran
  std::uint64_t expected = 0;             // bytes asked for where a short transfer breaks soft links, else 0
  bool cancel_requested = false;          // cancelled before its chain segment started
  bool close_after = false;               // child_exit: close the handle if the wait succeeds
  bool at_once_refused = false;           // read: the backend's try at once was refused (op::Read)

  OpRecord* next_free = nullptr;
};

}  // namespace aiod::daemon
