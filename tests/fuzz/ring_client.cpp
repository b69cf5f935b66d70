// SPDX-License-Identifier: MIT
#include "ring_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace aiod::fuzz {
namespace {

std::uint32_t load_acquire(std::uint32_t& v) {
  return std::atomic_ref<std::uint32_t>(v).load(std::memory_order_acquire);
}
void store_release(std::uint32_t& v, std::uint32_t x) {
  std::atomic_ref<std::uint32_t>(v).store(x, std::memory_order_release);
}

}  // namespace

UniqueFd connect_socket(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  UniqueFd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s || ::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) return UniqueFd();
  return s;
}

std::unique_ptr<RingClient> RingClient::connect(const std::string& socket_path, const Options& opt,
                                                std::string& error) {
  std::unique_ptr<RingClient> c(new RingClient());
  c->sock_ = connect_socket(socket_path);
  if (!c->sock_) {
    error = std::string("connect: ") + std::strerror(errno);
    return nullptr;
  }
  const std::string dir = opt.directory.empty() ? "." : opt.directory;
  UniqueFd cwd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd root(::open(opt.directory.empty() ? "/" : dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  flatbuffers::FlatBufferBuilder b(128);
  const auto hello =
      wire::CreateHelloDirect(b, AIOD_PROTOCOL_VERSION, wire::SessionKind::Io, opt.sq_entries, opt.arena_bytes, "fuzz");
  b.Finish(wire::CreateMessage(b, 1, wire::Body::Hello, hello.Union()), wire::MessageIdentifier());
  const int fds[] = {cwd.get(), root.get()};
  if (wire::send_message(c->sock_.get(), wire::view(b), fds) < 0) {
    error = "cannot send the Hello";
    return nullptr;
  }
  auto in = c->receive(std::chrono::seconds(10));
  const wire::Message* msg = in ? wire::verify(in->bytes) : nullptr;
  const wire::Welcome* w = msg != nullptr ? msg->body_as_Welcome() : nullptr;
  if (w == nullptr || in->fds.size() != 3) {
    error = "no valid Welcome";
    return nullptr;
  }
  if (!c->map_region(*w, in->fds)) {
    error = "mmap failed";
    return nullptr;
  }
  return c;
}

std::uint32_t RingClient::sq_room() const { return sq_entries_ - (sq_tail_ - load_acquire(hdr_->sq_head)); }

void RingClient::submit(std::span<const aiod_sqe> sqes) {
  for (const aiod_sqe& s : sqes) {
    std::memcpy(&sq_[sq_tail_ & (sq_entries_ - 1)], &s, sizeof(s));
    ++sq_tail_;
  }
  store_release(hdr_->sq_tail, sq_tail_);
  ring_doorbell();
}

void RingClient::store_sq_tail(std::uint32_t tail) {
  store_release(hdr_->sq_tail, tail);
  ring_doorbell();
}

void RingClient::store_cq_head(std::uint32_t head) {
  store_release(hdr_->cq_head, head);
  ring_doorbell();
}

void RingClient::ring_doorbell() {
  // Always: simplest for tests, and a spurious write is harmless (5.5).
  const std::uint64_t one = 1;
  (void)!::write(submit_efd_.get(), &one, sizeof(one));
}

std::vector<aiod_cqe> RingClient::reap() {
  std::vector<aiod_cqe> out;
  const std::uint32_t tail = load_acquire(hdr_->cq_tail);
  while (cq_head_ != tail && tail - cq_head_ <= cq_entries_) {
    out.push_back(cq_[cq_head_ & (cq_entries_ - 1)]);
    ++cq_head_;
  }
  store_release(hdr_->cq_head, cq_head_);
  return out;
}

void RingClient::wait_for_completions(std::chrono::steady_clock::time_point deadline) {
  auto& flags = hdr_->client_flags;
  std::atomic_ref<std::uint32_t>(flags).store(AIOD_CLIENT_NEED_WAKEUP, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (load_acquire(hdr_->cq_tail) == cq_head_) {
    // Descriptors the daemon has not consumed (it may be stalled on CQ space).
    if (load_acquire(hdr_->sq_head) != sq_tail_) ring_doorbell();
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p[2] = {{complete_efd_.get(), POLLIN, 0}, {sock_.get(), POLLRDHUP, 0}};
    if (left.count() > 0 && ::poll(p, 2, static_cast<int>(std::min<long>(left.count(), 50))) > 0 &&
        (p[0].revents & POLLIN)) {
      std::uint64_t v;
      (void)!::read(complete_efd_.get(), &v, sizeof(v));
    }
  }
  std::atomic_ref<std::uint32_t>(flags).store(0, std::memory_order_relaxed);
}

bool RingClient::disconnected(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Replies still queued before the EOF are read and dropped.
    char buf[256];
    const ssize_t n = ::recv(sock_.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
    if (n > 0) continue;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{sock_.get(), POLLIN | POLLRDHUP, 0};
    (void)::poll(&p, 1, static_cast<int>(left.count()));
  }
}

int RingClient::send_raw(std::span<const std::uint8_t> bytes, std::span<const int> fds) {
  return wire::send_message(sock_.get(), bytes, fds);
}

std::optional<wire::ReceivedMessage> RingClient::receive(std::chrono::milliseconds timeout) {
  pollfd p{sock_.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  wire::ReceivedMessage in;
  if (wire::recv_message(sock_.get(), in, MSG_DONTWAIT) <= 0) return std::nullopt;
  return in;
}

std::optional<std::vector<std::uint32_t>> RingClient::register_fds(std::span<const int> fds) {
  flatbuffers::FlatBufferBuilder b(64);
  const auto body = wire::CreateRegisterFds(b, static_cast<std::uint32_t>(fds.size()));
  b.Finish(wire::CreateMessage(b, ++next_id_, wire::Body::RegisterFds, body.Union()), wire::MessageIdentifier());
  if (send_raw(wire::view(b), fds) < 0) return std::nullopt;
  auto in = receive(std::chrono::seconds(10));
  const wire::Message* msg = in ? wire::verify(in->bytes) : nullptr;
  const auto* r = msg != nullptr ? msg->body_as_RegisterFdsReply() : nullptr;
  if (r == nullptr || r->handles() == nullptr || r->handles()->size() != fds.size()) return std::nullopt;
  return std::vector<std::uint32_t>(r->handles()->begin(), r->handles()->end());
}

}  // namespace aiod::fuzz
