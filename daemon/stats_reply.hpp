// stats_reply.hpp — a StatsSnapshot as a StatsReply control message.
#pragma once

#include <cstdint>
#include <string_view>

#include "aiod/control_generated.h"
#include "stats.hpp"

namespace aiod::daemon {

void build_stats_reply(flatbuffers::FlatBufferBuilder& b, std::uint64_t request_id,
                       const StatsSnapshot& snap, std::string_view backend);

}  // namespace aiod::daemon
