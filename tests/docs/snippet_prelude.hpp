// SPDX-License-Identifier: MIT
// snippet_prelude.hpp — what every C++ snippet of README.md and docs/*.md may
// assume without showing it: the public headers of libaiod, the standard and
// system headers the examples use, std::chrono's literals (10s, 30ms) and the
// `coro` alias docs/coroutines.md introduces. check_snippets.sh force-includes
// it in front of each snippet; a snippet that needs more says so itself.

#include <aiod/aiod.hpp>
#include <aiod/coro.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace std::chrono_literals;
namespace coro = aiod::coro;
