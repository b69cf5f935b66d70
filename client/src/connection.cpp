// connection.cpp — connecting: socket, handshake, mapping the region; and
// synchronous control requests.
#include "connection.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "shm_access.hpp"
#include "socket_path.hpp"

namespace aiod::detail {
namespace {

constexpr int kReplyTimeoutMs = 10'000;

// The process's umask, read without changing it (umask(2) would race with
// other threads): /proc/self/status has it since Linux 4.7.
std::uint32_t current_umask() {
  UniqueFd fd(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  char buf[4096];
  const ssize_t n = fd ? ::read(fd.get(), buf, sizeof(buf) - 1) : -1;
  if (n > 0) {
    buf[n] = '\0';
    if (const char* line = std::strstr(buf, "\nUmask:")) return static_cast<std::uint32_t>(std::strtoul(line + 7, nullptr, 8));
  }
  return 022;
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::open(const ClientOptions& options) {
  std::unique_ptr<Connection> c(new Connection());
  std::string detail;
  if (const std::error_code ec = c->handshake(options, detail)) return {ec, detail};
  return c;
}

Connection::~Connection() {
  if (region_ != nullptr) ::munmap(region_, region_size_);
}

std::error_code Connection::handshake(const ClientOptions& options, std::string& detail) {
  const std::string path = options.socket_path.empty() ? client_socket_path() : options.socket_path;
  if (path.empty()) {
    detail = "no socket path: set AIOD_SOCKET or XDG_RUNTIME_DIR";
    return errc::daemon_not_running;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    detail = "socket path too long: " + path;
    return std::make_error_code(std::errc::filename_too_long);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  sock_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!sock_) return {errno, std::system_category()};
  if (::connect(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    const int err = errno;
    detail = path + ": " + std::strerror(err);
    if (err == ENOENT || err == ECONNREFUSED) return errc::daemon_not_running;
    return {err, std::system_category()};
  }

  // cwd and root travel with the Hello: the daemon resolves our paths against them.
  UniqueFd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cwd || !root) return {errno, std::system_category()};

  flatbuffers::FlatBufferBuilder b(256);
  const auto hello = wire::CreateHelloDirect(b, AIOD_PROTOCOL_VERSION, wire::SessionKind::Io, options.sq_entries,
                                             options.arena_bytes, options.name.c_str(), current_umask());
  b.Finish(wire::CreateMessage(b, next_request_id(), wire::Body::Hello, hello.Union()), wire::MessageIdentifier());
  const int fds[] = {cwd.get(), root.get()};
  auto reply = request(b, fds);
  if (!reply) {
    detail = reply.message();
    return reply.error();
  }
  const wire::Message* msg = wire::verify(reply->bytes);
  const wire::Welcome* w = msg != nullptr ? msg->body_as_Welcome() : nullptr;
  if (w == nullptr || reply->fds.size() != 3) {
    detail = "expected a Welcome with three descriptors";
    return errc::protocol_error;
  }
  if (w->protocol_version() != AIOD_PROTOCOL_VERSION) {
    detail = "the daemon speaks protocol version " + std::to_string(w->protocol_version());
    return errc::protocol_error;
  }
  // The daemon is trusted not to lie on purpose, but a layout that does not fit
  // the region would make us fault, so check it all.
  const std::uint64_t size = w->region_size();
  const std::uint32_t sq = w->sq_entries(), cq = w->cq_entries();
  const proto::ShmLayout layout{sq, cq, w->sq_offset(), w->cq_offset(), w->arena_offset(), w->arena_size(), size};
  struct stat st {};
  const bool fits = proto::layout_misfit(layout) == nullptr && ::fstat(reply->fds[0].get(), &st) == 0 &&
                    static_cast<std::uint64_t>(st.st_size) >= size;
  if (!fits) {
    detail = "the session layout does not fit the shared region";
    return errc::protocol_error;
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, reply->fds[0].get(), 0);
  if (base == MAP_FAILED) return {errno, std::system_category()};
  region_ = static_cast<std::byte*>(base);
  region_size_ = size;
  region_fd_ = std::move(reply->fds[0]);
  submit_efd_ = std::move(reply->fds[1]);
  complete_efd_ = std::move(reply->fds[2]);
  hdr_ = reinterpret_cast<aiod_shm_header*>(region_);
  if (hdr_->magic != AIOD_SHM_MAGIC) {
    detail = "the shared region has no aiod header";
    return errc::protocol_error;
  }
  sq_ = reinterpret_cast<aiod_sqe*>(region_ + w->sq_offset());
  cq_ = reinterpret_cast<const aiod_cqe*>(region_ + w->cq_offset());
  arena_ = region_ + w->arena_offset();
  arena_size_ = w->arena_size();
  arena_alloc_ = ArenaAllocator(arena_size_);
  spin_ = options.spin;
  spin_budget_ = spin_;

  info_.session_id = w->session_id();
  info_.daemon_version = w->daemon_version() != nullptr ? w->daemon_version()->str() : "";
  info_.backend = w->backend() != nullptr ? w->backend()->str() : "";
  info_.sq_entries = sq;
  info_.cq_entries = cq;
  info_.arena_bytes = arena_size_;
  info_.max_in_flight = w->max_in_flight();

  // One descriptor for event loops: readable on completions and on the
  // daemon's departure alike.
  notify_fd_.reset(::epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  // Edge-triggered: each daemon write is one wake-up, and a waiter need not
  // read the eventfd afterwards (one syscall per sleep: the epoll_wait).
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = complete_efd_.get();
  if (!notify_fd_ || ::epoll_ctl(notify_fd_.get(), EPOLL_CTL_ADD, complete_efd_.get(), &ev) < 0) {
    return {errno, std::system_category()};
  }
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = sock_.get();
  if (::epoll_ctl(notify_fd_.get(), EPOLL_CTL_ADD, sock_.get(), &ev) < 0) return {errno, std::system_category()};

  // Enough records for a full submission ring plus a full completion ring.
  ops_.resize(std::size_t{sq} + cq);
  for (std::uint32_t i = static_cast<std::uint32_t>(ops_.size()); i > 0; --i) {
    ops_[i - 1].next_free = free_head_;
    free_head_ = i;
  }
  free_count_ = static_cast<std::uint32_t>(ops_.size());
  return {};
}

Result<std::vector<Handle>> Connection::register_fds(std::span<const int> fds) {
  flatbuffers::FlatBufferBuilder b(128);
  const auto body = wire::CreateRegisterFds(b, static_cast<std::uint32_t>(fds.size()));
  b.Finish(wire::CreateMessage(b, next_request_id(), wire::Body::RegisterFds, body.Union()), wire::MessageIdentifier());
  auto reply = request(b, fds);
  if (!reply) return {reply.error(), reply.detail()};
  const wire::Message* msg = wire::verify(reply->bytes);
  const wire::RegisterFdsReply* r = msg != nullptr ? msg->body_as_RegisterFdsReply() : nullptr;
  if (r == nullptr || r->handles() == nullptr || r->handles()->size() != fds.size()) {
    return {errc::protocol_error, "expected a RegisterFdsReply"};
  }
  std::vector<Handle> handles;
  for (std::uint32_t h : *r->handles()) handles.push_back(Handle{h});
  return handles;
}

std::error_code Connection::unregister(std::span<const std::uint32_t> handles) {
  const std::vector<std::uint32_t> values(handles.begin(), handles.end());
  flatbuffers::FlatBufferBuilder b(128);
  const auto body = wire::CreateUnregisterHandlesDirect(b, &values);
  b.Finish(wire::CreateMessage(b, next_request_id(), wire::Body::UnregisterHandles, body.Union()),
           wire::MessageIdentifier());
  auto reply = request(b);
  return reply ? std::error_code() : reply.error();
}

Result<wire::ReceivedMessage> Connection::request(flatbuffers::FlatBufferBuilder& b, std::span<const int> fds) {
  if (dead_) return errc::daemon_gone;
  const wire::Message* sent_msg = wire::verify(wire::view(b));
  const std::uint64_t id = sent_msg != nullptr ? sent_msg->id() : 0;
  const int sent = wire::send_message(sock_.get(), wire::view(b), fds);
  if (sent < 0 && sent != -EPIPE && sent != -ECONNRESET) return std::error_code(-sent, std::system_category());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReplyTimeoutMs);
  for (;;) {
    if (sent == 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{sock_.get(), POLLIN, 0};
      int ready;
      do {
        ready = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
      } while (ready < 0 && errno == EINTR);
      if (ready == 0) return errc::timed_out;
    }
    // A daemon that refuses a connection (too many sessions) sends its reason
    // and closes, possibly before our request went out: the reason may still
    // be waiting to be read even when the send failed.
    wire::ReceivedMessage in;
    const int n = wire::recv_message(sock_.get(), in, sent < 0 ? MSG_DONTWAIT : 0);
    if (n == 0 || n == -ECONNRESET || n == -EAGAIN) {
      dead_ = true;
      return errc::daemon_gone;
    }
    if (n < 0) return {errc::protocol_error, std::string("receiving a reply: ") + std::strerror(-n)};
    const wire::Message* msg = wire::verify(in.bytes);
    if (msg == nullptr) return {errc::protocol_error, "malformed reply"};
    const wire::Error* e = msg->body_as_Error();
    // A late reply to an earlier request that timed out is not this one's.
    if (msg->id() != id && !(e != nullptr && msg->id() == 0)) continue;
    if (e != nullptr) {
      std::string text = e->message() != nullptr ? e->message()->str() : "";
      if (e->code() > 0) text += " (" + std::string(std::strerror(e->code())) + ")";
      if (sent < 0) dead_ = true;
      return {errc::rejected, text};
    }
    if (sent < 0) {
      dead_ = true;
      return errc::daemon_gone;
    }
    return in;
  }
}

}  // namespace aiod::detail
