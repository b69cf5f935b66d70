// SPDX-License-Identifier: MIT
#include "aiod/event_source.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace aiod {

Result<EventSource> EventSource::create(Client& client) {
  const int fd = ::eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return std::error_code(errno, std::system_category());
  auto handle = client.register_fd(fd);
  if (!handle) {
    ::close(fd);
    return {handle.error(), handle.detail()};
  }
  return EventSource(fd, *handle);
}

Result<EventSource> EventSource::adopt(Client& client, int eventfd) {
  const int fd = ::fcntl(eventfd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return std::error_code(errno, std::system_category());
  auto handle = client.register_fd(fd);
  if (!handle) {
    ::close(fd);
    return {handle.error(), handle.detail()};
  }
  return EventSource(fd, *handle);
}

EventSource::EventSource(EventSource&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), handle_(std::exchange(other.handle_, Handle{})) {}

EventSource& EventSource::operator=(EventSource&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    handle_ = std::exchange(other.handle_, Handle{});
  }
  return *this;
}

EventSource::~EventSource() {
  if (fd_ >= 0) ::close(fd_);
}

std::error_code EventSource::notify() const {
  const std::uint64_t one = 1;
  if (::write(fd_, &one, sizeof(one)) != sizeof(one)) return {errno, std::system_category()};
  return {};
}

bool EventSource::try_wait() const {
  std::uint64_t value;
  return ::read(fd_, &value, sizeof(value)) == sizeof(value);
}

}  // namespace aiod
