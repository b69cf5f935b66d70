// SPDX-License-Identifier: MIT
// shard_sessions.cpp — a shard's sessions: taken from the inbox, run, listed, closed.
#include "shard/shard.hpp"

#include <unistd.h>

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "session/session.hpp"

namespace aiod::daemon {

void Shard::adopt(UniqueFd conn, std::uint64_t session_id, std::string refusal) {
  {
    std::lock_guard lock(mutex_);
    inbox_.push_back({std::move(conn), session_id, std::move(refusal)});
  }
  const std::uint64_t one = 1;
  (void)!::write(inbox_efd_.get(), &one, sizeof(one));
}

std::size_t Shard::session_count() const {
  std::lock_guard lock(mutex_);
  return sessions_.size() + inbox_.size();
}

void Shard::add_session(Session& s) {
  std::lock_guard lock(mutex_);
  sessions_.push_back(SessionEntry{&s, false});
  sessions_total_.add();
}

void Shard::list_session(Session& s) {
  std::lock_guard lock(mutex_);
  for (SessionEntry& e : sessions_) {
    if (e.session == &s) e.listed = true;
  }
}

void Shard::remove_session(Session& s) {
  parked_.remove(s);
  std::erase(dirty_, &s);
  {
    std::lock_guard lock(mutex_);
    std::erase_if(sessions_, [&s](const SessionEntry& e) { return e.session == &s; });
    // Fold the ended session's counters into the shard's, in the same critical
    // section, so a concurrent stats reader counts them exactly once.
    const CountersSnapshot c = s.counters.snapshot();
    retired_.ops_submitted.add(c.ops_submitted);
    retired_.ops_completed.add(c.ops_completed);
    retired_.ops_failed.add(c.ops_failed);
    retired_.bytes_in.add(c.bytes_in);
    retired_.bytes_out.add(c.bytes_out);
    retired_.invalid_descriptors.add(c.invalid_descriptors);
    retired_.ring_full_events.add(c.ring_full_events);
    retired_.wakeups_sent.add(c.wakeups_sent);
    retired_.wakeups_received.add(c.wakeups_received);
  }
  if (s.counted()) daemon_.session_ended(s.id());
}

void Shard::InboxReader::arm() {
  const BackendOp op(op::Read{.fd = s_.inbox_efd_.get(), .buf = &value, .len = sizeof(value)});
  armed = s_.backend_->prepare(op, this) == 0;
}

void Shard::InboxReader::complete(int) {
  armed = false;
  s_.take_inbox();
  if (!s_.stopping_) arm();
}

void Shard::take_inbox() {
  std::vector<Incoming> conns;
  {
    std::lock_guard lock(mutex_);
    conns.swap(inbox_);
  }
  for (Incoming& in : conns) {
    if (stopping_) {
      if (in.refusal.empty()) daemon_.session_ended(in.id);
      continue;  // closes the connection: the daemon is going away
    }
    run_session(std::move(in.conn), in.id, std::move(in.refusal));
  }
}

void Shard::begin_stop() {
  stopping_ = true;
  take_inbox();
  std::vector<Session*> all;
  {
    std::lock_guard lock(mutex_);
    for (const SessionEntry& e : sessions_) all.push_back(e.session);
  }
  for (Session* s : all) s->request_close("the daemon is stopping");
}

DetachedTask Shard::run_session(UniqueFd sock, std::uint64_t id, std::string refusal) {
  auto session = std::make_unique<Session>(*this, std::move(sock), id, std::move(refusal));
  add_session(*session);
  if (co_await session->handshake() == 0) {
    list_session(*session);  // its identity is final: stats on other shards may show it
    co_await session->serve_control();
  }
  co_await session->shutdown();
  remove_session(*session);
}

}  // namespace aiod::daemon
