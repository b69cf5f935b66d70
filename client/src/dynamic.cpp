// SPDX-License-Identifier: MIT
#include "aiod/dynamic.hpp"

#include <utility>

#include "connection.hpp"
#include "encode.hpp"

namespace aiod {

Dynamic::Dynamic(Client& client, std::size_t capacity) : Dynamic(client, DynamicOptions{.capacity = capacity}) {}

Dynamic::Dynamic(Client& client, DynamicOptions options)
    : client_(client), batch_(std::make_unique<detail::Batch>()), use_backlog_(options.backlog) {
  batch_->capacity = options.capacity;
}

Dynamic::~Dynamic() {
  // The records of outstanding ops point at this queue: let them finish.
  (void)complete_all();
}

std::error_code Dynamic::queue(std::span<Op> ops) {
  detail::Connection& conn = client_.connection();
  if (!use_backlog_) return conn.queue(ops, *batch_);
  if (ops.empty()) return {};
  if (conn.dead()) return errc::daemon_gone;
  if (detail::common_fields(ops.back()).link != Link::unlinked) return errc::invalid_batch;
  // Beyond the capacity, or more than the ring can ever take at once.
  if (batch_->outstanding + backlog_ops_ + ops.size() > batch_->capacity || ops.size() > conn.info().sq_entries) {
    return errc::queue_full;
  }
  if (backlog_.empty()) {
    const std::error_code ec = conn.queue(ops, *batch_);
    // The arena frees up as this queue's ops complete.
    const bool no_room =
        ec == errc::queue_full || (ec == errc::arena_exhausted && batch_->outstanding > 0);
    if (!no_room) return ec;
  }
  backlog_.emplace_back(ops.begin(), ops.end());
  backlog_ops_ += ops.size();
  return {};
}

bool Dynamic::drain_backlog() {
  detail::Connection& conn = client_.connection();
  bool moved = false;
  while (!backlog_.empty()) {
    std::vector<Op>& ops = backlog_.front();
    const std::error_code ec = conn.queue(ops, *batch_);
    if (ec == errc::queue_full || (ec == errc::arena_exhausted && batch_->outstanding > 0)) break;
    if (ec) {
      // It can never go out (a bad op, the daemon gone...): each op
      // completes here with the error.
      for (const Op& op : ops) {
        const detail::CommonFields common = detail::common_fields(op);
        if (common.out_error != nullptr) *common.out_error = ec;
        ++batch_->completed;
        ++batch_->errors;
        if (batch_->callback) batch_->callback(OpId{}, common.userdata, true);
      }
    }
    backlog_ops_ -= ops.size();
    backlog_.pop_front();
    moved = true;
  }
  return moved;
}

Result<CompletionResult> Dynamic::complete(CompletionMode mode) {
  detail::Connection& conn = client_.connection();
  if (!backlog_.empty()) (void)drain_backlog();
  conn.submit();
  if (mode == CompletionMode::nonblocking || (batch_->outstanding == 0 && backlog_.empty())) {
    conn.reap();
    conn.abandon_if_dead();
    if (!backlog_.empty() && drain_backlog()) conn.submit();
    if (conn.dead() && batch_->completed == 0 && batch_->outstanding == 0 && batch_->errors == 0 &&
        backlog_.empty()) {
      return make_error_code(errc::daemon_gone);
    }
  } else {
    for (;;) {
      // Each wake-up also moves what fits from the backlog into the ring.
      const std::error_code ec =
          conn.wait([&] { return batch_->completed > 0 || (!backlog_.empty() && drain_backlog()); });
      if (ec) {
        // The ops were completed with daemon_gone; so is the backlog.
        if (!backlog_.empty()) (void)drain_backlog();
        if (batch_->completed == 0) return ec;
        break;
      }
      if (batch_->completed > 0) break;
      conn.submit();
    }
  }
  CompletionResult r{batch_->completed, batch_->errors};
  batch_->completed = 0;
  batch_->errors = 0;
  return r;
}

Result<std::size_t> Dynamic::complete_all() {
  std::size_t errors = 0;
  for (;;) {
    auto r = complete(CompletionMode::blocking);
    if (!r) return {r.error(), r.detail()};
    errors += r->num_errors;
    if (r->num_completed == 0) return errors;
  }
}

void Dynamic::set_callback(Callback cb) { batch_->callback = std::move(cb); }

std::size_t Dynamic::outstanding() const noexcept { return batch_->outstanding + backlog_ops_; }

}  // namespace aiod
