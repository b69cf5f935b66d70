// SPDX-License-Identifier: MIT
// stats_reply.hpp — a StatsSnapshot as a StatsReply control message.
#pragma once

#include <cstdint>
#include <string_view>

#include "aiod/control_generated.h"
#include "stats/stats.hpp"

namespace aiod::daemon {

// Lists the sessions from index `first_session` on, as many as fit one
// control message; the reply's next_session says where the next page starts.
void build_stats_reply(flatbuffers::FlatBufferBuilder& b, std::uint64_t request_id, const StatsSnapshot& snap,
                       std::string_view backend, std::uint64_t first_session = 0);

}  // namespace aiod::daemon
