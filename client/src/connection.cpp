// SPDX-License-Identifier: MIT
// connection.cpp — connecting to the daemon: socket, handshake, mapping the region.
#include "connection.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "shm_access.hpp"
#include "socket_path.hpp"

namespace aiod::detail {
namespace {

// The process's umask, read without changing it (umask(2) would race with
// other threads): /proc/self/status has it since Linux 4.7.
std::uint32_t current_umask() {
  UniqueFd fd(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  char buf[4096];
  const ssize_t n = fd ? ::read(fd.get(), buf, sizeof(buf) - 1) : -1;
  if (n > 0) {
    buf[n] = '\0';
    if (const char* line = std::strstr(buf, "\nUmask:"))
      return static_cast<std::uint32_t>(std::strtoul(line + 7, nullptr, 8));
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
    // The message is the code's text, then the detail: name the errno here
    // only where the code does not (daemon_not_running).
    if (err == ENOENT || err == ECONNREFUSED) {
      detail = path + ": " + std::strerror(err);
      return errc::daemon_not_running;
    }
    detail = path;
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
  spin_ = SpinPolicy(options.spin);

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

}  // namespace aiod::detail
