// SPDX-License-Identifier: MIT
// fd_policy.hpp — descriptors a client hands to the daemon (RegisterFds,
// SCM_RIGHTS received by RECV_MSG) that the daemon refuses to hold.
//
// A handle is read and written by the daemon's threads. A descriptor whose
// meaning depends on the thread that uses it would then act on the daemon:
// a signalfd reads the reading thread's pending signals, and the daemon's
// SIGTERM, SIGINT and SIGHUP wait in its process-wide queue, so a client's
// READ of its own signalfd would take them (the service manager could no
// longer stop the daemon, reloads would be lost, the senders would leak).
//
// Thread-safety: a plain function.
#pragma once

namespace aiod::daemon {

// Whether the daemon refuses to hold `fd` for a client (see above).
[[nodiscard]] bool refused_as_handle(int fd);

}  // namespace aiod::daemon
