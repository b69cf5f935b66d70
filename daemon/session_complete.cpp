// session_complete.cpp — the completion side: turning backend results into the
// client's completions, exactly one per consumed descriptor.
#include <spdlog/spdlog.h>

#include <cerrno>

#include "session.hpp"
#include "shard.hpp"

namespace aiod::daemon {

void OpRecord::complete(int res) { session->on_record_complete(*this, res); }

OpRecord* Session::alloc_record() {
  // Never empty: the pump admits a chain only when in_flight_ + its length
  // fits max_in_flight_, the size of the pool.
  OpRecord* rec = free_records_;
  free_records_ = rec->next_free;
  rec->next_free = nullptr;
  rec->chain = nullptr;
  rec->chain_index = 0;
  rec->in_backend = false;
  rec->handle = 0;
  ++in_flight_;
  counters.ops_in_flight.add();
  return rec;
}

void Session::free_record(OpRecord& rec) {
  rec.path.clear();
  rec.chain = nullptr;
  rec.next_free = free_records_;
  free_records_ = &rec;
  --in_flight_;
  counters.ops_in_flight.sub();
}

void Session::release_record(OpRecord& rec) {
  if (rec.handle != 0) handles_.release(rec.handle);
  rec.handle = 0;
  free_record(rec);
}

int Session::finish_result(OpRecord& rec, int res) {
  switch (rec.finish) {
    case Finish::plain:
      break;
    case Finish::timer:
      if (res == -ETIME) res = 0;  // expiry is the timer's success
      break;
    case Finish::new_handle:
      if (res >= 0) {
        const std::int64_t h = handles_.insert(UniqueFd(res));
        res = static_cast<int>(h);  // a handle (< 2^31) or -EMFILE
      }
      break;
    case Finish::close_handle:
      if (res >= 0) res = handles_.close(rec.handle);
      break;
  }
  if (res > 0) {
    if (rec.opcode == AIOD_OP_READ) counters.bytes_in.add(static_cast<std::uint64_t>(res));
    if (rec.opcode == AIOD_OP_WRITE) counters.bytes_out.add(static_cast<std::uint64_t>(res));
  }
  return res;
}

void Session::post(const OpRecord& rec, int res) {
  rings_.post(rec.user_data, res);
  counters.ops_completed.add();
  shard_.opcode_counters.count[rec.opcode < AIOD_OP_LAST ? rec.opcode : 0].add();
  if (res < 0) {
    counters.ops_failed.add();
    if (rec.opcode < AIOD_OP_LAST) shard_.opcode_counters.errors[rec.opcode].add();
  }
  shard_.latency.record(shard_.now_ns() - rec.start_ns);
  if (!dirty_) {
    dirty_ = true;
    shard_.mark_dirty(*this);
  }
}

// io_uring breaks a soft-linked chain on any unexpected result, a short
// transfer included; the chain logic applies the same rule between segments.
static bool breaks_soft_link(const OpRecord& rec, int res) {
  if (res < 0) return true;
  const bool transfer = rec.op.opcode == BackendOpcode::read || rec.op.opcode == BackendOpcode::write;
  return transfer && static_cast<std::uint32_t>(res) < rec.op.len;
}

void Session::on_record_complete(OpRecord& rec, int res) {
  rec.in_backend = false;
  const int backend_res = res;
  res = finish_result(rec, res);
  post(rec, res);
  Chain* chain = rec.chain;
  const bool breaks = rec.link == Link::soft && breaks_soft_link(rec, backend_res);
  const bool in_segment = chain != nullptr && rec.chain_index < chain->segment_end;
  release_record(rec);
  if (chain != nullptr) {
    chain->broken |= breaks;
    ++chain->completed;
    if (in_segment) --chain->outstanding;
    if (chain->outstanding == 0 && chain->next < chain->ops.size()) submit_next_segment(*chain);
    if (chain->completed == chain->ops.size()) delete chain;
  }
  maybe_quiet();
}

void Session::publish_completions() {
  dirty_ = false;
  if (rings_.publish()) {
    counters.wakeups_sent.add();
    shard_.wake_client(complete_efd_.get());
  }
}

}  // namespace aiod::daemon
