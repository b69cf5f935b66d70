// SPDX-License-Identifier: MIT
// event_source.hpp — a counting semaphore that ops, tasks, threads and even
// other processes can share (zig-aio's EventSource).
//
// Backed by an eventfd(EFD_SEMAPHORE) of this process, registered with the
// daemon as a handle: NotifyEventSource / WaitEventSource ops use handle();
// notify() and try_wait() work directly, without the daemon. To share it with
// another client, pass fd() to that process (fork, SCM_RIGHTS) and adopt() it
// there. Not copyable; moving keeps the same eventfd and handle.
#pragma once

#include <system_error>

#include "aiod/client.hpp"
#include "aiod/handle.hpp"
#include "aiod/result.hpp"

namespace aiod {

class EventSource {
 public:
  // A new event source with a count of 0, registered with `client`.
  static Result<EventSource> create(Client& client);
  // Registers an existing eventfd (shared by another process); takes a copy.
  static Result<EventSource> adopt(Client& client, int eventfd);

  EventSource(EventSource&& other) noexcept;
  EventSource& operator=(EventSource&& other) noexcept;
  EventSource(const EventSource&) = delete;
  EventSource& operator=(const EventSource&) = delete;
  // Closes this process's eventfd. The daemon's handle stays until a
  // CloseEventSource op (or the session's end).
  ~EventSource();

  [[nodiscard]] Handle handle() const noexcept { return handle_; }
  [[nodiscard]] int fd() const noexcept { return fd_; }

  // Adds one to the count; never blocks.
  std::error_code notify() const;
  // Takes one from the count if it is not zero; never blocks.
  [[nodiscard]] bool try_wait() const;

 private:
  EventSource(int fd, Handle handle) : fd_(fd), handle_(handle) {}
  int fd_ = -1;
  Handle handle_{};
};

}  // namespace aiod
