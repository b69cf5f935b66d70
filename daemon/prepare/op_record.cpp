// SPDX-License-Identifier: MIT
// op_record.cpp — resetting a record for its next descriptor.
//
// The side buffers (how, ts, addr, msg: 224 bytes) are not cleared here:
// every record is reset once per op, and clearing them was a tenth of a
// shard's time per nop. The prepare that points its op at one writes it whole
// first (op_record.hpp).
#include "prepare/op_record.hpp"

namespace aiod::daemon {

void OpRecord::reset() {
  chain = nullptr;
  chain_index = 0;
  user_data = 0;
  start_ns = 0;
  opcode = 0;
  link = Link::none;
  finish = Finish::plain;
  in_backend = false;
  live = false;
  handle = 0;
  op = BackendOp{};
  path.clear();
  path2.clear();
  addr_len = 0;
  iov.clear();
  control.clear();
  if (control.capacity() > kKeptControlBytes) std::vector<std::uint8_t>().swap(control);
  control_charged = 0;
  value = 0;
  handle2 = 0;
  passed.clear();
  out_offset = kNoOffset;
  out_offset2 = kNoOffset;
  preset = 0;
  expected = 0;
  cancel_requested = false;
  close_after = false;
  at_once_refused = false;
  next_free = nullptr;
}

}  // namespace aiod::daemon
