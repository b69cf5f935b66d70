// SPDX-License-Identifier: MIT
// session_setup.cpp — setting up an IO session: region, eventfds, handles, prepare context.
//
// Runs once, from the handshake, after the Hello has been read and checked;
// answers with the Welcome that hands the region and eventfds over.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "os/layout.hpp"
#include "os/peer_creds.hpp"
#include "os/peer_namespaces.hpp"
#include "os/shm_region.hpp"
#include "os/version.hpp"
#include "prepare/uid_shares.hpp"
#include "session/session.hpp"
#include "wire.hpp"

namespace aiod::daemon {
namespace {

// On the shard thread: AT_STATX_DONT_SYNC answers from what the kernel has
// cached, never asking a (maybe hung, maybe hostile) NFS server or FUSE daemon.
bool is_directory(int fd) {
  struct statx st {};
  return ::statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &st) == 0 && S_ISDIR(st.stx_mode);
}

}  // namespace

int Session::setup_io(const wire::Message& msg, wire::ReceivedMessage& in) {
  const wire::Hello& hello = *msg.body_as_Hello();
  const Config& config = host_.config();

  bool needs_personality = false;
  std::string why;
  if (authorise_peer(creds_, host_.daemon().identity(), needs_personality, why) < 0) {
    reply_error(msg.id(), EPERM, why);
    return -EPERM;
  }
  if (in.fds.size() != 2 || !is_directory(in.fds[0].get()) || !is_directory(in.fds[1].get())) {
    reply_error(msg.id(), EINVAL, "an IO Hello carries two directory descriptors: cwd and root");
    return -EINVAL;
  }
  cwd_ = std::move(in.fds[0]);
  root_ = std::move(in.fds[1]);

  // Served inside the client's own namespaces, never the daemon's.
  bool foreign_netns = false;
  if (const int err = read_peer_netns(sock_.get(), creds_, foreign_netns, netns_, why); err < 0) {
    reply_error(msg.id(), -err, why);
    return err;
  }
  if (foreign_netns && host_.daemon().identity().uid != 0) {
    reply_error(msg.id(), EPERM,
                "the client is in another network namespace, and this aiod (not root) cannot act there");
    return -EPERM;
  }

  if (needs_personality) {
    const int id = host_.acquire_personality(creds_);
    if (id < 0) {
      reply_error(msg.id(), -id, std::string("cannot take the client's identity: ") + std::strerror(-id));
      return id;
    }
    personality_ = static_cast<std::uint16_t>(id);
  }

  const SessionLayout layout = compute_layout(hello.sq_entries(), hello.arena_bytes(), config.limits.layout);
  UidShares& shares = host_.daemon().shares();
  if (!shares.try_take(creds_.uid, Shared::memory, layout.total_size, config.limits.max_memory_per_uid)) {
    reply_error(msg.id(), ENOMEM,
                "uid " + std::to_string(creds_.uid) + " already holds " +
                    std::to_string(shares.held(creds_.uid, Shared::memory)) +
                    " bytes of session memory; this session needs " + std::to_string(layout.total_size) +
                    " more (max-memory-per-uid is " + std::to_string(config.limits.max_memory_per_uid) + ")");
    return -ENOMEM;
  }
  memory_share_ = UidShare(&shares, creds_.uid, Shared::memory, layout.total_size);
  handles_.count_against(&shares, creds_.uid, config.limits.max_handles_per_uid);
  std::string error;
  if (const int err = ShmRegion::create(layout.total_size, "aiod-session", region_, error); err < 0) {
    reply_error(msg.id(), -err, "cannot create the session's shared memory: " + error);
    return err;
  }
  rings_.attach(region_.base(), layout);
  // The hint is there before the client's first wait (and for a client that
  // asks to be kept off this CPU: Client::keep_off_daemon_cpu).
  rings_.set_daemon_cpu(host_.cpu());
  submit_efd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  complete_efd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!submit_efd_ || !complete_efd_) {
    const int err = errno;
    reply_error(msg.id(), err, std::string("eventfd: ") + std::strerror(err));
    return -err;
  }

  // The quota never lets the completion ring overflow, and never blocks a
  // chain that fills the submission ring.
  std::uint32_t quota = config.limits.max_in_flight == 0 ? layout.cq_entries : config.limits.max_in_flight;
  if (quota < layout.sq_entries) quota = layout.sq_entries;
  if (quota > layout.cq_entries) quota = layout.cq_entries;
  max_in_flight_ = quota;
  records_.init(this, quota);
  scratch_.reserve(layout.sq_entries);
  prepare_ctx_.arena = {region_.base() + layout.arena_offset, layout.arena_size};
  prepare_ctx_.handles = &handles_;
  prepare_ctx_.cwd_fd = cwd_.get();
  prepare_ctx_.root_fd = root_.get();
  prepare_ctx_.personality = personality_;
  prepare_ctx_.umask = hello.umask() & 0777;
  // A client in a chroot or another mount namespace has a root of its own;
  // paths must then never be resolved against the daemon's.
  prepare_ctx_.foreign_root = !is_daemon_root(root_.get());
  prepare_ctx_.netns_fd = netns_.get();
  prepare_ctx_.owner = creds_.uid + 1;
  prepare_ctx_.control_in_flight = &control_in_flight_;
  prepare_ctx_.max_control_bytes = config.limits.max_control_bytes;
  prepare_ctx_.backend = &host_.backend();

  flatbuffers::FlatBufferBuilder b(512);
  const auto version = b.CreateString(kVersion);
  const auto backend = b.CreateString(host_.backend().info().name);
  wire::WelcomeBuilder w(b);
  w.add_protocol_version(AIOD_PROTOCOL_VERSION);
  w.add_session_id(id_);
  w.add_daemon_version(version);
  w.add_backend(backend);
  w.add_sq_entries(layout.sq_entries);
  w.add_cq_entries(layout.cq_entries);
  w.add_region_size(layout.total_size);
  w.add_sq_offset(layout.sq_offset);
  w.add_cq_offset(layout.cq_offset);
  w.add_arena_offset(layout.arena_offset);
  w.add_arena_size(layout.arena_size);
  w.add_max_in_flight(max_in_flight_);
  const auto welcome = w.Finish();
  b.Finish(wire::CreateMessage(b, msg.id(), wire::Body::Welcome, welcome.Union()), wire::MessageIdentifier());
  // The memfd is closed once sent: the daemon keeps only its mapping.
  const UniqueFd memfd = region_.take_fd();
  const int fds[] = {memfd.get(), submit_efd_.get(), complete_efd_.get()};
  if (reply(wire::view(b), fds) < 0) return -EPIPE;

  is_io_ = true;
  spdlog::info("session {} opened: pid {}, uid {}, gid {}{}{}, sq {}, arena {} KiB", id_, creds_.pid, creds_.uid,
               creds_.gid, name_.empty() ? "" : ", ", name_, layout.sq_entries, layout.arena_size / 1024);
  arm_doorbell();
  pump();
  return 0;
}

}  // namespace aiod::daemon
