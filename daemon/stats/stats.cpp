// SPDX-License-Identifier: MIT
// stats.cpp — counters, latency histograms and their snapshots.
#include "stats/stats.hpp"

#include <bit>

#include "op_table.hpp"

namespace aiod::daemon {

CountersSnapshot& CountersSnapshot::operator+=(const CountersSnapshot& o) {
  ops_submitted += o.ops_submitted;
  ops_completed += o.ops_completed;
  ops_failed += o.ops_failed;
  ops_in_flight += o.ops_in_flight;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  invalid_descriptors += o.invalid_descriptors;
  ring_full_events += o.ring_full_events;
  wakeups_sent += o.wakeups_sent;
  wakeups_received += o.wakeups_received;
  return *this;
}

CountersSnapshot SessionCounters::snapshot() const {
  CountersSnapshot s;
  s.ops_failed = ops_failed.get();
  // Every consumed descriptor gets exactly one completion: the difference is
  // what is in flight (no per-op counter needed). Read completed first, so a
  // concurrent reader never sees more completed than submitted.
  s.ops_completed = ops_completed.get();
  s.ops_submitted = ops_submitted.get();
  s.ops_in_flight = s.ops_submitted >= s.ops_completed ? s.ops_submitted - s.ops_completed : 0;
  s.bytes_in = bytes_in.get();
  s.bytes_out = bytes_out.get();
  s.invalid_descriptors = invalid_descriptors.get();
  s.ring_full_events = ring_full_events.get();
  s.wakeups_sent = wakeups_sent.get();
  s.wakeups_received = wakeups_received.get();
  return s;
}

void LatencyHistogram::record(std::uint64_t ns) noexcept {
  // Bucket i holds (bound(i-1), bound(i)]; ns <= 1 us goes to bucket 0.
  std::size_t i = 0;
  if (ns > bound_ns(0)) {
    i = static_cast<std::size_t>(std::bit_width((ns - 1) / 1000));
    if (i > kBounds) i = kBounds;
  }
  buckets_[i].add();
  sum_ns_.add(ns);
  count_.add();
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot s;
  for (std::size_t i = 0; i < kBounds; ++i) s.bounds_ns.push_back(bound_ns(i));
  for (const Counter& b : buckets_) s.counts.push_back(b.get());
  s.sum_ns = sum_ns_.get();
  s.count = count_.get();
  return s;
}

LatencyHistogram::Snapshot& LatencyHistogram::Snapshot::operator+=(const Snapshot& o) {
  if (counts.empty()) {
    *this = o;
    return *this;
  }
  for (std::size_t i = 0; i < counts.size() && i < o.counts.size(); ++i) counts[i] += o.counts[i];
  sum_ns += o.sum_ns;
  count += o.count;
  return *this;
}

const char* opcode_name(unsigned opcode) {
  const proto::OpInfo* info = proto::op_info(opcode);
  return info != nullptr ? info->name.data() : "unknown";  // the table's names are literals
}

}  // namespace aiod::daemon
