// SPDX-License-Identifier: MIT
// session_complete.cpp — posting completions, exactly one per consumed
// descriptor; moving a chain on as its ops complete; making completions
// visible to the client and waking it.
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "session/session.hpp"
#include "stats/stage_probe.hpp"

namespace aiod::daemon {

void OpRecord::complete(int res) { session->on_record_complete(*this, res); }

void Session::post(const OpRecord& rec, int res) {
  rings_.post(rec.user_data, res);
  counters.ops_completed.add();
  // An unknown opcode counts in neither table, only as a failed op.
  const bool known = rec.opcode < AIOD_OP_LAST;
  if (known) {
    host_.opcode_counters.count[rec.opcode].add();
    counters.opcode_count[rec.opcode].add();
  }
  if (res < 0) {
    counters.ops_failed.add();
    if (known) {
      host_.opcode_counters.errors[rec.opcode].add();
      counters.opcode_errors[rec.opcode].add();
    }
  }
  const std::uint64_t latency = host_.turn_ns() - rec.start_ns;
  host_.latency.record(latency);
  counters.latency.record(latency);
  if (!dirty_) {
    dirty_ = true;
    host_.mark_dirty(*this);
  }
}

// io_uring breaks a soft-linked chain on any failure — a short read or write
// (READ, WRITE, READ_TTY, READV, WRITEV) and a short RECV or RECV_MSG with
// MSG_WAITALL included, an expired timer or a link timeout whose op won
// excluded — and the chain logic applies the same rule: prepare sets
// `expected` for exactly those ops (docs/protocol.md 6.5). `res` is the
// result the client sees.
static bool breaks_soft_link(const OpRecord& rec, int res) {
  return res < 0 || static_cast<std::uint64_t>(res) < rec.expected;
}

bool Session::settle(OpRecord& rec, int res) {
  rec.in_backend = false;
  res = finish_result(rec, res);
  post(rec, res);
  // An expired link timeout cancels what follows whatever its own link says.
  const bool breaks =
      (rec.link == Link::soft && breaks_soft_link(rec, res)) || (rec.finish == Finish::link_timer && res < 0);
  records_.release(rec);
  return breaks;
}

void Session::on_record_complete(OpRecord& rec, int res) {
  stage_probe::mark(stage_probe::Stage::reaped, rec.opcode);
  Chain* chain = rec.chain;
  const bool in_segment = chain != nullptr && rec.chain_index < chain->segment_end;
  const bool breaks = settle(rec, res);
  if (chain != nullptr) {
    chain->broken |= breaks;
    ++chain->completed;
    if (in_segment) --chain->outstanding;
    if (chain->outstanding == 0 && chain->next < chain->ops.size()) submit_next_segment(*chain);
    chains_.end_if_done(*chain);
  }
  maybe_quiet();
}

void Session::publish_completions() {
  dirty_ = false;
  rings_.set_daemon_cpu(host_.cpu());  // fresh for the client's next wait
  stage_probe::mark(stage_probe::Stage::publishing, 0);
  if (rings_.publish()) wake_client();
  // The last completion of a closing session may have been the one published.
  maybe_quiet();
}

void Session::wake_client() {
  // A closing session wakes nobody: its client learns from the control
  // socket's hang-up, which its wait watches too. A write started now could
  // never be cancelled (shutdown() cancels only the one in flight when it
  // runs), and with the client's eventfd held full it would never end and
  // keep the session for ever.
  if (closing_) return;
  // One write in flight at a time: more would pile up, each one waiting (on
  // the posix backend holding a worker) for room that may never come, when
  // the client holds its eventfd at its maximum. But the one in flight may
  // have landed already and woken the client before these completions, so
  // its end looks again (Waker::complete).
  if (waker_.in_flight > 0) {
    waker_.again = true;
    return;
  }
  // The client sleeps (or is about to): write its completion eventfd, batched
  // with the shard's other submissions.
  static const std::uint64_t kOne = 1;  // only read by the kernel
  const BackendOp op(op::Write{.fd = complete_efd_.get(), .buf = &kOne, .len = sizeof(kOne)});
  Backend& backend = host_.backend();
  if (backend.space() == 0) backend.flush();
  if (backend.prepare(op, &waker_) == 0) {
    ++waker_.in_flight;
    counters.wakeups_sent.add();
  }
}

}  // namespace aiod::daemon
