// SPDX-License-Identifier: MIT
// record_pool.cpp — handing out and taking back a session's OpRecords.
#include "session/record_pool.hpp"

#include "prepare/handle_table.hpp"

namespace aiod::daemon {

void RecordPool::init(Session* session, std::uint32_t size) {
  records_ = std::vector<OpRecord>(size);
  for (OpRecord& rec : records_) {
    rec.session = session;
    rec.next_free = free_;
    free_ = &rec;
  }
}

OpRecord& RecordPool::acquire() {
  OpRecord& rec = *free_;
  free_ = rec.next_free;
  rec.reset();
  rec.live = true;
  ++in_flight_;
  return rec;
}

void RecordPool::release(OpRecord& rec) {
  if (rec.handle != 0) handles_.release(rec.handle);
  if (rec.handle2 != 0) handles_.release(rec.handle2);
  for (std::uint32_t h : rec.passed) handles_.release(h);
  rec.handle = rec.handle2 = 0;
  rec.passed.clear();
  control_in_flight_ -= rec.control_charged;
  rec.control_charged = 0;
  rec.chain = nullptr;
  rec.live = false;
  rec.next_free = free_;
  free_ = &rec;
  --in_flight_;
}

}  // namespace aiod::daemon
