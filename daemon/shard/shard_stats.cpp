// SPDX-License-Identifier: MIT
// shard_stats.cpp — a shard's counters and its sessions' added to a stats snapshot.
#include "shard/shard.hpp"

#include <mutex>
#include <utility>

#include "aiod_shm.h"
#include "session/session.hpp"

namespace aiod::daemon {

void Shard::collect(StatsSnapshot& into, bool include_sessions, uid_t visible_uid) const {
  std::lock_guard lock(mutex_);
  into.totals += retired_.snapshot();
  for (const SessionEntry& e : sessions_) {
    const Session* s = e.session;
    const CountersSnapshot c = s->counters.snapshot();
    into.totals += c;
    // Identity fields only once they are final (a handshake may be writing them).
    if (include_sessions && e.listed && s->is_io() && (visible_uid == 0 || s->creds().uid == visible_uid)) {
      SessionSnapshot snap;
      snap.id = s->id();
      snap.pid = s->creds().pid;
      snap.uid = s->creds().uid;
      snap.gid = s->creds().gid;
      snap.name = s->name();
      snap.shard = index_;
      snap.counters = c;
      for (unsigned op = 0; op < AIOD_OP_LAST; ++op) {
        snap.opcode_count[op] = s->counters.opcode_count[op].get();
        snap.opcode_errors[op] = s->counters.opcode_errors[op].get();
      }
      snap.latency = s->counters.latency.snapshot();
      into.sessions.push_back(std::move(snap));
    }
  }
  into.sessions_total += sessions_total_.get();
  for (unsigned op = 0; op < AIOD_OP_LAST; ++op) {
    into.opcode_count[op] += opcode_counters.count[op].get();
    into.opcode_errors[op] += opcode_counters.errors[op].get();
  }
  into.latency += latency.snapshot();
  into.daemon_syscalls += syscalls_.load(std::memory_order_relaxed);
  BackendReport report = backend_->report();
  report += into.backend;  // the shards collected before
  into.backend = std::move(report);
}

}  // namespace aiod::daemon
