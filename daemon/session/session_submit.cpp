// SPDX-License-Identifier: MIT
// session_submit.cpp — the submission side: draining the client's ring into
// backend operations, chain by chain.
#include <algorithm>
#include <cerrno>

#include "session/session.hpp"
#include "stats/stage_probe.hpp"

namespace aiod::daemon {
namespace {
// A session that no other session waits behind still ends its turn after this
// many descriptors: the turn then submits, reaps and publishes them, and the
// client sees the first completions of a big batch while the shard runs the
// rest (docs/benchmarks.md, "Pipelining a batch"). With others waiting, the
// budget is drain-budget, and the round of turns publishes just as often.
constexpr std::uint32_t kPipelineStep = 16;
// Descriptors (a cache line each) fetched ahead of the one being copied.
constexpr std::uint32_t kPrefetchAhead = 16;
bool has_link(const aiod_sqe& d) { return (d.flags & (AIOD_SQE_LINK | AIOD_SQE_HARDLINK)) != 0; }

// What a record hands the backend. A read waiting for its turn in a chain
// was marked try_at_once when it was prepared; its descriptor may have been
// sent away since (a client holding the description can switch it to
// O_DIRECT), so the mark is asked again now.
BackendOp to_hand_over(const OpRecord& rec, HandleTable& handles) {
  BackendOp op = rec.op;
  if (op.is<op::Read>() && op.as<op::Read>().try_at_once && !handles.may_read_at_once(rec.handle)) {
    op.as<op::Read>().try_at_once = false;
  }
  return op;
}
}  // namespace

DetachedTask Session::pump() {
  pump_running_ = true;
  while (!closing_) {
    const std::uint32_t budget = host_.config().limits.drain_budget;
    switch (drain(host_.scheduler().has_ready() ? budget : std::min(budget, kPipelineStep))) {
      case DrainResult::corrupt:
        request_close("the client corrupted its ring indices");
        break;
      case DrainResult::more:
        co_await host_.scheduler().yield();
        break;
      case DrainResult::idle:
      case DrainResult::blocked:
        co_await host_.park_until_ready(*this);
        break;
    }
  }
  pump_running_ = false;
  maybe_quiet();
}

std::uint32_t Session::capacity() {
  // Invariant: completions posted but unread + ops in flight <= CQ entries, so
  // the completion ring can never overflow.
  const std::uint32_t cq_room = rings_.cq_entries() - rings_.cq_used() - records_.in_flight();
  const std::uint32_t quota_room = max_in_flight_ - records_.in_flight();
  return cq_room < quota_room ? cq_room : quota_room;
}

// Asked on every turn of a spinning shard. The client's completion head is
// read only when the last one read leaves too little room: an older head only
// understates the room, and each read takes that line from the client's CPU,
// which writes it as it reaps. drain() reads it again anyway, and a corrupt
// one ends the session there.
bool Session::ready_to_drain() {
  const auto pending = rings_.pending_submissions();
  if (!pending) return true;  // let the pump act on it
  // More published than when the pump last stopped (it may be waiting for the
  // end of a chain), and room for what it needs next.
  if (*pending <= seen_pending_) return false;
  if (capacity() >= blocked_need_) return true;
  if (!rings_.refresh_cq_head()) return true;
  return capacity() >= blocked_need_;
}

Session::DrainResult Session::drain(std::uint32_t budget) {
  rings_.set_daemon_cpu(host_.cpu());
  if (!rings_.refresh_cq_head()) return DrainResult::corrupt;
  const auto pending = rings_.pending_submissions();
  if (!pending) return DrainResult::corrupt;
  std::uint32_t left = *pending;
  std::uint32_t consumed = 0;
  DrainResult result = DrainResult::idle;
  blocked_need_ = 1;
  seen_pending_ = 0;
  // The client wrote these lines on another CPU: ask for the first ones at
  // once, so that their misses overlap instead of following one another.
  for (std::uint32_t i = 0; i < left && i < kPrefetchAhead; ++i) rings_.prefetch_submission(i);
  while (left > 0) {
    // Copy one chain out of shared memory: these copies are all we look at.
    scratch_.clear();
    bool terminated = false;
    while (scratch_.size() < left) {
      aiod_sqe& d = scratch_.emplace_back();
      const auto index = consumed + static_cast<std::uint32_t>(scratch_.size()) - 1;
      if (index + kPrefetchAhead < consumed + left) rings_.prefetch_submission(index + kPrefetchAhead);
      rings_.copy_submission(index, d);
      stage_probe::mark(stage_probe::Stage::noticed, d.opcode);
      if (!has_link(d)) {
        terminated = true;
        break;
      }
    }
    const auto len = static_cast<std::uint32_t>(scratch_.size());
    // A chain whose end is not published yet waits for it — unless it fills
    // the whole ring, in which case the ring's end ends it.
    if (!terminated && len < rings_.sq_entries()) {
      seen_pending_ = left;  // look again only once more is published
      break;
    }
    if (len > capacity()) {
      counters.ring_full_events.add();
      blocked_need_ = len;
      result = DrainResult::blocked;
      break;
    }
    if (consumed > 0 && consumed + len > budget) {
      result = DrainResult::more;
      break;
    }
    start_chain(scratch_.data(), len);
    stage_probe::mark(stage_probe::Stage::prepared, scratch_[0].opcode);
    consumed += len;
    left -= len;
  }
  if (consumed > 0) rings_.consume(consumed);
  return result;
}

void Session::start_chain(const aiod_sqe* descs, std::uint32_t count) {
  const std::uint64_t now = host_.turn_ns();
  counters.ops_submitted.add(count);
  if (count == 1) {
    // The common case, without the chain machinery's allocations.
    OpRecord& rec = records_.acquire();
    rec.start_ns = now;
    int err = prepare_record(descs[0], prepare_ctx_, rec);
    if (err == 0 && descs[0].opcode == AIOD_OP_LINK_TIMEOUT) err = -EINVAL;  // guards nothing
    rec.link = Link::none;  // the ring's end may have ended an unterminated chain
    if (err < 0) {
      counters.invalid_descriptors.add();
      post(rec, err);
      records_.release(rec);
      return;
    }
    submit_single(rec);
    return;
  }
  std::vector<OpRecord*> recs;
  recs.reserve(count);
  std::vector<int> errors(count, 0);
  bool invalid = false;
  for (std::uint32_t i = 0; i < count; ++i) {
    OpRecord* rec = &records_.acquire();
    rec->start_ns = now;
    errors[i] = prepare_record(descs[i], prepare_ctx_, *rec);
    // A link timeout guards the op linked right before it: it cannot start a
    // chain, follow an unlinked op, or guard another link timeout.
    if (errors[i] == 0 && descs[i].opcode == AIOD_OP_LINK_TIMEOUT &&
        (i == 0 || recs[i - 1]->link == Link::none || recs[i - 1]->opcode == AIOD_OP_LINK_TIMEOUT)) {
      errors[i] = -EINVAL;
    }
    invalid |= errors[i] < 0;
    recs.push_back(rec);
  }
  // The ring's end ended an unterminated chain: its last op links to nothing.
  recs.back()->link = Link::none;
  if (invalid) {
    fail_chain(recs, errors);
    return;
  }
  Chain& chain = chains_.start(std::move(recs));
  submit_next_segment(chain);
  chains_.end_if_done(chain);
}

OpRecord* Session::find_live(std::uint64_t user_data, const OpRecord* except) {
  for (OpRecord& r : records_.all()) {
    if (r.live && &r != except && r.user_data == user_data && r.finish != Finish::cancel) return &r;
  }
  return nullptr;
}

// Decides what a CANCEL does, when its turn to run has come (not when it was
// consumed: its target is whatever live op carries that id *now*): ask the
// kernel to cancel a target the backend holds; mark a target that waits for
// its turn in a chain (it then completes with -ECANCELED instead of
// starting); or report -ENOENT.
void Session::resolve_cancel(OpRecord& cancel) {
  OpRecord* target = find_live(cancel.value, &cancel);
  if (target == nullptr) {
    cancel.op.set<op::Nop>();
    cancel.preset = -ENOENT;
  } else if (target->in_backend) {
    cancel.op.as<op::Cancel>().target = target;
  } else {
    target->cancel_requested = true;
    cancel.op.set<op::Nop>();
    cancel.preset = 0;
  }
}

// A chain with an invalid descriptor never starts: each invalid op completes
// with its own error, every other op of the chain with -ECANCELED.
void Session::fail_chain(std::vector<OpRecord*>& recs, const std::vector<int>& errors) {
  for (std::size_t i = 0; i < recs.size(); ++i) {
    OpRecord& rec = *recs[i];
    if (errors[i] < 0) counters.invalid_descriptors.add();
    post(rec, errors[i] < 0 ? errors[i] : -ECANCELED);
    records_.release(rec);
  }
}

void Session::submit_single(OpRecord& rec) {
  Backend& backend = host_.backend();
  if (rec.finish == Finish::cancel) resolve_cancel(rec);
  if (rec.op.is<op::Nop>()) {
    // Nothing for the kernel to do (a nop, a close's placeholder, a cancel
    // decided here): the daemon completes it itself.
    on_record_complete(rec, 0);
    return;
  }
  BackendOp op = to_hand_over(rec, handles_);
  op.link = Link::none;
  if (backend.space() == 0) backend.flush();
  const int ret = backend.prepare(op, &rec);
  if (ret < 0) {
    on_record_complete(rec, ret);
    return;
  }
  rec.in_backend = true;
}

// Hands the chain's next segment to the backend. Never completes a record
// through on_record_complete() (no re-entry): ops that do not go to the
// backend (cancelled while queued, or refused by it) are posted here directly.
void Session::submit_next_segment(Chain& chain) {
  Backend& backend = host_.backend();
  const auto size = static_cast<std::uint32_t>(chain.ops.size());
  auto settle_now = [&](OpRecord& rec, int res) {  // completes an op that never reached the backend
    post(rec, res);
    chain.broken |= rec.link == Link::soft;
    ++chain.completed;
    records_.release(rec);
  };
  while (chain.next < size) {
    if (chain.broken || closing_) {
      cancel_chain_rest(chain, chain.next);
      return;
    }
    if (chain.ops[chain.next]->cancel_requested) {
      settle_now(*chain.ops[chain.next++], -ECANCELED);
      continue;
    }
    if (OpRecord& rec = *chain.ops[chain.next]; rec.finish == Finish::cancel || rec.op.is<op::Nop>()) {
      // Completed by the daemon itself when its turn comes (see
      // submit_single); the loop, not recursion, moves the chain on.
      if (rec.finish == Finish::cancel) resolve_cancel(rec);
      if (rec.op.is<op::Nop>()) {
        ++chain.next;
        chain.broken |= settle(rec, 0);
        ++chain.completed;
        // Its link timeout, if any, lost the race: it completes as cancelled,
        // which is its success.
        if (chain.next < size && chain.ops[chain.next]->opcode == AIOD_OP_LINK_TIMEOUT) {
          chain.broken |= settle(*chain.ops[chain.next++], -ECANCELED);
          ++chain.completed;
        }
        continue;
      }
    }
    const std::uint32_t start = chain.next;
    // One op at a time, so that an op waiting for its turn is still the
    // daemon's: a cancel reaches it, and a failure before it is seen before it
    // starts. Only a link timeout travels with the op it guards, linked in
    // the kernel (it must start with that op).
    std::uint32_t end = start + 1;
    if (end < size && chain.ops[end]->opcode == AIOD_OP_LINK_TIMEOUT && backend.info().linked_timeouts) ++end;
    if (backend.space() < end - start) backend.flush();
    chain.segment_end = end;
    chain.outstanding = end - start;
    chain.next = end;
    for (std::uint32_t i = start; i < end; ++i) {
      OpRecord& rec = *chain.ops[i];
      if (rec.finish == Finish::cancel) resolve_cancel(rec);
      BackendOp op = to_hand_over(rec, handles_);
      op.link = i + 1 < end ? rec.link : Link::none;
      const int ret = backend.prepare(op, &rec);
      if (ret == 0) {
        rec.in_backend = true;
        continue;
      }
      // End the native chain where it stands, so that the next op prepared
      // (maybe another session's) is not linked behind ours; fail the rest of
      // the segment.
      backend.flush();
      for (std::uint32_t j = i; j < end; ++j) {
        settle_now(*chain.ops[j], ret);
        --chain.outstanding;
      }
      break;
    }
    if (chain.outstanding > 0) return;  // the backend has work of this chain
  }
}

void Session::cancel_chain_rest(Chain& chain, std::uint32_t from) {
  const auto size = static_cast<std::uint32_t>(chain.ops.size());
  chain.next = size;
  for (std::uint32_t i = from; i < size; ++i) {
    OpRecord& rec = *chain.ops[i];
    post(rec, -ECANCELED);
    ++chain.completed;
    records_.release(rec);
  }
}

}  // namespace aiod::daemon
