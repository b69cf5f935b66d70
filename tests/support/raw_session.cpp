// SPDX-License-Identifier: MIT
#include "raw_session.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "wire.hpp"

namespace aiod::test {

RawSession::RawSession(const std::string& socket_path, std::uint32_t sq_entries) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  sock_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (::connect(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    error_ = std::string("connect: ") + std::strerror(errno);
    return;
  }
  if (send_hello(sq_entries)) receive_welcome(10'000);
}

RawSession::RawSession(UniqueFd connected, std::uint32_t sq_entries) {
  sock_ = std::move(connected);
  (void)send_hello(sq_entries);
}

bool RawSession::finish_handshake() {
  if (error_.empty()) receive_welcome(0);
  return ok();
}

bool RawSession::send_hello(std::uint32_t sq_entries) {
  UniqueFd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  flatbuffers::FlatBufferBuilder b(128);
  const auto hello =
      wire::CreateHelloDirect(b, AIOD_PROTOCOL_VERSION, wire::SessionKind::Io, sq_entries, 1 << 20, "raw");
  b.Finish(wire::CreateMessage(b, 1, wire::Body::Hello, hello.Union()), wire::MessageIdentifier());
  const int fds[] = {cwd.get(), root.get()};
  if (wire::send_message(sock_.get(), wire::view(b), fds) < 0) {
    error_ = "send hello failed";
    return false;
  }
  return true;
}

void RawSession::receive_welcome(int timeout_ms) {
  wire::ReceivedMessage in;
  pollfd p{sock_.get(), POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1 || wire::recv_message(sock_.get(), in) <= 0) {
    error_ = "no welcome";
    return;
  }
  const wire::Message* msg = wire::verify(in.bytes);
  const wire::Welcome* w = msg != nullptr ? msg->body_as_Welcome() : nullptr;
  if (w == nullptr || in.fds.size() != 3) {
    error_ = "bad welcome";
    return;
  }
  if (!map_region(*w, in.fds)) error_ = "mmap failed";
}

void RawSession::push(const aiod_sqe& sqe) {
  std::memcpy(&sq_[sq_tail_ & (sq_entries_ - 1)], &sqe, sizeof(sqe));
  ++sq_tail_;
}

void RawSession::publish() { publish_raw_tail(sq_tail_); }

void RawSession::publish_raw_tail(std::uint32_t tail) {
  std::atomic_ref<std::uint32_t>(hdr_->sq_tail).store(tail, std::memory_order_release);
  const std::uint64_t one = 1;
  (void)!::write(submit_efd_.get(), &one, sizeof(one));  // always ring: simplest for tests
}

std::vector<aiod_cqe> RawSession::wait(std::size_t n, std::chrono::milliseconds timeout) {
  std::vector<aiod_cqe> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n) {
    const std::uint32_t tail = std::atomic_ref<std::uint32_t>(hdr_->cq_tail).load(std::memory_order_acquire);
    while (cq_head_ != tail && out.size() < n) {
      out.push_back(cq_[cq_head_ & (cq_entries_ - 1)]);
      ++cq_head_;
    }
    std::atomic_ref<std::uint32_t>(hdr_->cq_head).store(cq_head_, std::memory_order_release);
    if (out.size() >= n) break;
    // The protocol's rule for a client that frees completion space while the
    // daemon sleeps with descriptors of ours unconsumed: ring the doorbell.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (std::atomic_ref<std::uint32_t>(hdr_->sq_head).load(std::memory_order_acquire) != sq_tail_ &&
        (std::atomic_ref<std::uint32_t>(hdr_->daemon_flags).load(std::memory_order_relaxed) &
         AIOD_DAEMON_NEED_WAKEUP)) {
      const std::uint64_t one = 1;
      (void)!::write(submit_efd_.get(), &one, sizeof(one));
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    // Ask to be woken, re-check, then sleep on the completion eventfd.
    std::atomic_ref<std::uint32_t>(hdr_->client_flags).store(AIOD_CLIENT_NEED_WAKEUP, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (std::atomic_ref<std::uint32_t>(hdr_->cq_tail).load(std::memory_order_acquire) == cq_head_) {
      pollfd p{complete_efd_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 100))) == 1) {
        std::uint64_t v;
        (void)!::read(complete_efd_.get(), &v, sizeof(v));
      }
    }
    std::atomic_ref<std::uint32_t>(hdr_->client_flags).store(0, std::memory_order_relaxed);
  }
  return out;
}

bool RawSession::disconnected(std::chrono::milliseconds timeout) {
  pollfd p{sock_.get(), POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  char c;
  return ::recv(sock_.get(), &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void RawSession::ask_to_be_woken() {
  std::atomic_ref<std::uint32_t>(hdr_->client_flags).store(AIOD_CLIENT_NEED_WAKEUP, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

std::uint64_t RawSession::take_wakeups() {
  pollfd p{complete_efd_.get(), POLLIN, 0};
  if (::poll(&p, 1, 0) != 1) return 0;
  std::uint64_t count = 0;
  return ::read(complete_efd_.get(), &count, sizeof(count)) == sizeof(count) ? count : 0;
}

void RawSession::ask_to_be_woken_with_a_full_eventfd() {
  const std::uint64_t most = 0xfffffffffffffffeULL;  // an eventfd's largest count
  (void)!::write(complete_efd_.get(), &most, sizeof(most));
  std::atomic_ref<std::uint32_t>(hdr_->client_flags).store(AIOD_CLIENT_NEED_WAKEUP, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

std::optional<std::uint32_t> RawSession::register_fd(int fd) {
  flatbuffers::FlatBufferBuilder b(64);
  const auto body = wire::CreateRegisterFds(b, 1);
  b.Finish(wire::CreateMessage(b, 2, wire::Body::RegisterFds, body.Union()), wire::MessageIdentifier());
  if (wire::send_message(sock_.get(), wire::view(b), {&fd, 1}) < 0) return std::nullopt;
  wire::ReceivedMessage in;
  pollfd p{sock_.get(), POLLIN, 0};
  if (::poll(&p, 1, 10'000) != 1 || wire::recv_message(sock_.get(), in) <= 0) return std::nullopt;
  const wire::Message* msg = wire::verify(in.bytes);
  const auto* r = msg != nullptr ? msg->body_as_RegisterFdsReply() : nullptr;
  if (r == nullptr || r->handles() == nullptr || r->handles()->size() != 1) return std::nullopt;
  return r->handles()->Get(0);
}

}  // namespace aiod::test
