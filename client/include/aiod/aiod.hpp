// SPDX-License-Identifier: MIT
// aiod.hpp — everything a libaiod user needs.
#pragma once

#include "aiod/buffer.hpp"
#include "aiod/client.hpp"
#include "aiod/dynamic.hpp"
#include "aiod/error.hpp"
#include "aiod/event_source.hpp"
#include "aiod/handle.hpp"
#include "aiod/ops.hpp"
#include "aiod/result.hpp"
