// SPDX-License-Identifier: MIT
// notify_relay.hpp — the process the service manager trusts never acts for a
// client.
//
// Under systemd (Type=notify, NotifyAccess=main) the manager takes READY=,
// STOPPING=, WATCHDOG= and MAINPID= from the unit's main process, by the pid
// the kernel attaches to each datagram. Every message aiod sends for a client
// carries the pid of the process that serves it. So, when there is a notify
// socket, aiod splits in two before any thread starts: the main process keeps
// the notify socket and only relays what the serving process tells it, over a
// private socketpair; the serving child does everything else. A client's
// datagram to the notify socket (through a socket it connected itself, which
// no address check can see) then comes from the child's pid, and the manager
// drops it. The main process forwards SIGTERM, SIGINT and SIGHUP to the
// child and exits with the child's status. The relay dies before the child
// only when the manager kills it (the watchdog's SIGABRT, SIGKILL after a stop
// timeout): then the child is killed too (PR_SET_PDEATHSIG, SIGKILL, which
// ends it even if it is stopped or stuck), as the manager intended, even where
// the manager cannot reach the unit's other processes itself (a cgroup it
// cannot list). Its clients get errc::daemon_gone, as for any killed daemon.
//
// Thread-safety: call from main() while the process has one thread.
#pragma once

#include <initializer_list>

#include "system/systemd_notify.hpp"

namespace aiod::daemon {

// With `notifier` disabled, does nothing and returns. Otherwise forks: in the
// child (the serving process) it returns with `notifier` sending to the relay;
// the parent relays until the child exits, then exits the process itself.
// `close_in_relay` are descriptors only the child needs (the activated
// socket, the readiness descriptor), closed in the parent.
void split_for_notifications(Notifier& notifier, std::initializer_list<int> close_in_relay);

}  // namespace aiod::daemon
