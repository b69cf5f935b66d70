// SPDX-License-Identifier: MIT
// chain.hpp — linked chains of records in progress, and their one owner.
//
// A chain is run segment by segment: the daemon hands the backend one op (or
// an op and its link timeout, linked natively) and starts the next segment
// when every op of the current one has completed. Ops that wait for their
// turn stay in the daemon, where a cancel can reach them. Once an op with a
// soft link fails (io_uring's rule: a short transfer counts), or a link
// timeout expires, every later op completes with -ECANCELED.
#pragma once

#include <cstdint>
#include <list>
#include <vector>

#include "prepare/op_record.hpp"

namespace aiod::daemon {

struct Chain {
  std::vector<OpRecord*> ops;
  std::uint32_t next = 0;         // first op not handed to the backend yet
  std::uint32_t segment_end = 0;  // one past the current segment's last op
  std::uint32_t outstanding = 0;  // ops of the current segment still pending
  std::uint32_t completed = 0;    // ops of the whole chain completed
  bool broken = false;

  [[nodiscard]] bool done() const noexcept { return completed == ops.size(); }

 private:
  friend class Chains;
  std::list<Chain>::iterator self_;
};

// Every chain of a session that has not completed yet. Shard thread only.
class Chains {
 public:
  // A new chain of `ops` (each record points at it from now on).
  Chain& start(std::vector<OpRecord*> ops) {
    Chain& chain = live_.emplace_front();
    chain.self_ = live_.begin();
    chain.ops = std::move(ops);
    for (std::uint32_t i = 0; i < chain.ops.size(); ++i) {
      chain.ops[i]->chain = &chain;
      chain.ops[i]->chain_index = i;
    }
    return chain;
  }
  // Frees the chain once all its ops have completed; returns whether it did.
  bool end_if_done(Chain& chain) {
    if (!chain.done()) return false;
    live_.erase(chain.self_);
    return true;
  }
  [[nodiscard]] bool empty() const noexcept { return live_.empty(); }

 private:
  std::list<Chain> live_;
};

}  // namespace aiod::daemon
