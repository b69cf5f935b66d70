// SPDX-License-Identifier: MIT
// uring_backend.cpp — Backend on io_uring (liburing).
//
// The ring is created by the shard thread that uses it, so it can be
// SINGLE_ISSUER with DEFER_TASKRUN (6.1+), falling back to COOP_TASKRUN (5.19+)
// and then to a plain ring. Every SQE's user_data is the Completion* to notify;
// cancel SQEs and their own results go to a completion that ignores them.
//
// Some ops are not given to io_uring but to a posix backend this one owns
// (`emulated_`, the same code as --backend posix, on worker threads of this
// shard): every op that resolves a path a client names (io_uring would walk
// it from the daemon's own context; see confined_path.hpp), a socket created
// in a client's network namespace, getsockname and getpeername (which it
// runs at once, on this thread), and any op this kernel's io_uring lacks.
// A link timeout goes wherever the op it guards went; a cancel goes to the
// backend holding its target. The ring sleeps with a poll on the posix
// backend's wake eventfd armed, so a finished emulated op wakes it.
//
// A lone read: a turn whose only op is a positioned read of at most 64 KiB
// that prepare marked try_at_once (a buffered read of a regular file whose
// status flags only the daemon can change: with O_DIRECT, RWF_NOWAIT would
// still wait for the device) tries it at once with preadv2(RWF_NOWAIT)
// instead of entering the ring. From the page cache that
// costs what a pread costs, where io_uring_enter with the read costs about
// 1.6x more (docs/benchmarks.md, "Where a QD1 read's time goes"). With two
// ops or more in the turn the ring batches them, which is cheaper per op.
// Only a read that ends as the ring's would (every byte, or end of file at
// the offset) is kept; anything else goes to the ring as if never tried, and
// a filesystem without RWF_NOWAIT is reported (op::Read::at_once_refused). It
// runs on the shard thread under the daemon's identity, as the posix
// backend's reads do (a read carries no credentials; see posix_backend.cpp).
#include <liburing.h>
#include <sys/stat.h>
#include <spdlog/spdlog.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bitset>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "backend/backend.hpp"
#include "backend/confined_path.hpp"
#include "backend/posix/posix_backend.hpp"
#include "backend/uring_kernel.hpp"
#include "os/timespec.hpp"
#include "unique_fd.hpp"

namespace aiod::daemon {
namespace {

// Absorbs the results of operations whose outcome nobody needs (cancels).
class IgnoredCompletion final : public Completion {
 public:
  void complete(int) override {}
};
IgnoredCompletion g_ignored;

// Opcodes newer than liburing 2.3's header, from the kernel's uapi (their
// numbers never change). Whether this kernel has them is probed at start.
constexpr auto kOpFtruncate = static_cast<io_uring_op>(55);  // Linux 6.9
constexpr auto kOpBind = static_cast<io_uring_op>(56);       // Linux 6.11
constexpr auto kOpListen = static_cast<io_uring_op>(57);     // Linux 6.11

// io_uring's socket commands (Linux 6.7, kSocketCommandsSince): an
// IORING_OP_URING_CMD whose cmd_op is SOCKET_URING_OP_GETSOCKOPT or _SETSOCKOPT,
// with the level and the option's name where `addr` is, the value's length
// where `file_index` is and its address where `addr3` is (the kernel's
// names, which liburing 2.3 lacks). The kernel returns getsockopt's length.
constexpr std::uint32_t kSocketGetsockopt = 2;
constexpr std::uint32_t kSocketSetsockopt = 3;
static_assert(offsetof(io_uring_sqe, addr) == 16 && offsetof(io_uring_sqe, file_index) == 44 &&
              offsetof(io_uring_sqe, addr3) == 48);
void prep_socket_command(io_uring_sqe* sqe, std::uint32_t command, int fd, int level, int name, const void* value,
                         socklen_t len) {
  io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, nullptr, 0, 0);
  sqe->cmd_op = command;
  const std::uint32_t level_and_name[2] = {static_cast<std::uint32_t>(level), static_cast<std::uint32_t>(name)};
  std::memcpy(&sqe->addr, level_and_name, sizeof(level_and_name));
  sqe->file_index = len;
  sqe->addr3 = reinterpret_cast<std::uintptr_t>(value);
}

// An io_uring opcode no kernel has: an op whose prep() fills it runs in the
// posix part (see the top of this file).
constexpr std::uint8_t kPosixOnly = 0xff;
void posix_only(io_uring_sqe* sqe) { sqe->opcode = kPosixOnly; }

// One function per op: fills the SQE, and so names the io_uring opcode the op
// needs. prepare() gives the op to the posix part when the probe says this
// kernel lacks that opcode, or when prep() says posix_only: every op that
// walks a path a client names, and a socket for another network namespace.
void prep(io_uring_sqe* sqe, const op::Nop&) { io_uring_prep_nop(sqe); }
void prep(io_uring_sqe* sqe, const op::Read& o) { io_uring_prep_read(sqe, o.fd, o.buf, o.len, o.offset); }
void prep(io_uring_sqe* sqe, const op::Write& o) { io_uring_prep_write(sqe, o.fd, o.buf, o.len, o.offset); }
void prep(io_uring_sqe* sqe, const op::Fsync& o) {
  io_uring_prep_fsync(sqe, o.fd, o.datasync ? IORING_FSYNC_DATASYNC : 0);
}
// Without IORING_TIMEOUT_ETIME_SUCCESS (5.16): expiry's -ETIME would break an
// io_uring chain, but the ring never holds one (a Link only pairs an op with
// its link timeout); the session reads -ETIME as the timer's success.
void prep(io_uring_sqe* sqe, const op::Timeout& o) {
  io_uring_prep_timeout(sqe, const_cast<__kernel_timespec*>(o.ts), 0, 0);
}
void prep(io_uring_sqe* sqe, const op::Openat2&) { posix_only(sqe); }
void prep(io_uring_sqe* sqe, const op::Close& o) { io_uring_prep_close(sqe, o.fd); }
void prep(io_uring_sqe* sqe, const op::Recvmsg& o) { io_uring_prep_recvmsg(sqe, o.fd, o.msg, o.flags); }
void prep(io_uring_sqe* sqe, const op::Sendmsg& o) {
  if (o.msg != nullptr && posix::is_unix_path(o.msg->msg_name, o.msg->msg_namelen)) return posix_only(sqe);
  io_uring_prep_sendmsg(sqe, o.fd, o.msg, o.flags);
}
void prep(io_uring_sqe* sqe, const op::Accept& o) {
  io_uring_prep_accept(sqe, o.fd, o.addr, o.addr_len, static_cast<int>(o.flags));
}
void prep(io_uring_sqe* sqe, const op::PollAdd& o) { io_uring_prep_poll_add(sqe, o.fd, o.events); }
void prep(io_uring_sqe* sqe, const op::Readv& o) { io_uring_prep_readv(sqe, o.fd, o.iov, o.count, o.offset); }
void prep(io_uring_sqe* sqe, const op::Writev& o) { io_uring_prep_writev(sqe, o.fd, o.iov, o.count, o.offset); }
void prep(io_uring_sqe* sqe, const op::Connect& o) {
  if (posix::is_unix_path(o.addr, o.addr_len)) return posix_only(sqe);
  io_uring_prep_connect(sqe, o.fd, o.addr, o.addr_len);
}
void prep(io_uring_sqe* sqe, const op::Bind& o) {  // io_uring_prep_bind() is newer than liburing 2.3
  if (posix::is_unix_path(o.addr, o.addr_len)) return posix_only(sqe);
  io_uring_prep_rw(kOpBind, sqe, o.fd, o.addr, 0, o.addr_len);
}
void prep(io_uring_sqe* sqe, const op::Listen& o) {
  io_uring_prep_rw(kOpListen, sqe, o.fd, nullptr, static_cast<unsigned>(o.backlog), 0);
}
void prep(io_uring_sqe* sqe, const op::Recv& o) {
  io_uring_prep_recv(sqe, o.fd, o.buf, o.len, static_cast<int>(o.flags));
}
void prep(io_uring_sqe* sqe, const op::Send& o) {
  io_uring_prep_send(sqe, o.fd, o.buf, o.len, static_cast<int>(o.flags));
}
void prep(io_uring_sqe* sqe, const op::Shutdown& o) { io_uring_prep_shutdown(sqe, o.fd, o.how); }
void prep(io_uring_sqe* sqe, const op::LinkTimeout& o) {
  io_uring_prep_link_timeout(sqe, const_cast<__kernel_timespec*>(o.ts), 0);
}
void prep(io_uring_sqe* sqe, const op::Cancel& o) { io_uring_prep_cancel(sqe, o.target, 0); }
void prep(io_uring_sqe* sqe, const op::Renameat&) { posix_only(sqe); }
void prep(io_uring_sqe* sqe, const op::Unlinkat&) { posix_only(sqe); }
void prep(io_uring_sqe* sqe, const op::Mkdirat&) { posix_only(sqe); }
void prep(io_uring_sqe* sqe, const op::Symlinkat&) { posix_only(sqe); }
void prep(io_uring_sqe* sqe, const op::Socket& o) {
  if (o.netns >= 0) return posix_only(sqe);  // the ring creates sockets in the daemon's namespace
  io_uring_prep_socket(sqe, o.domain, o.type, o.protocol, 0);
}
void prep(io_uring_sqe* sqe, const op::Splice& o) {
  io_uring_prep_splice(sqe, o.in, static_cast<std::int64_t>(o.in_offset), o.out,
                       static_cast<std::int64_t>(o.out_offset), o.len, o.flags);
}
void prep(io_uring_sqe* sqe, const op::Statx&) { posix_only(sqe); }
void prep(io_uring_sqe* sqe, const op::Fallocate& o) {
  io_uring_prep_fallocate(sqe, o.fd, o.mode, static_cast<off_t>(o.offset), static_cast<off_t>(o.length));
}
void prep(io_uring_sqe* sqe, const op::Fadvise& o) {
  io_uring_prep_fadvise(sqe, o.fd, static_cast<off_t>(o.offset), static_cast<off_t>(o.len), o.advice);
}
void prep(io_uring_sqe* sqe, const op::Ftruncate& o) {  // no liburing 2.3 helper
  io_uring_prep_rw(kOpFtruncate, sqe, o.fd, nullptr, 0, o.length);
}
// Socket commands: on the ring where init() found them, and only on a
// descriptor that is a socket (prepare() checks: other files' URING_CMD means
// something else to their drivers).
void prep(io_uring_sqe* sqe, const op::Setsockopt& o) {
  prep_socket_command(sqe, kSocketSetsockopt, o.fd, o.level, o.name, o.value, o.len);
}
void prep(io_uring_sqe* sqe, const op::Getsockopt& o) {
  if (o.level != SOL_SOCKET) return posix_only(sqe);  // the kernel's command reads SOL_SOCKET only
  prep_socket_command(sqe, kSocketGetsockopt, o.fd, o.level, o.name, o.value, o.len);
}
// No io_uring operation: the posix part runs them at once on this thread
// (posix::try_now); they wait for nothing but the socket's lock (see
// posix_backend.cpp).
void prep(io_uring_sqe* sqe, const op::Getsockname&) { posix_only(sqe); }
void prep(io_uring_sqe* sqe, const op::Getpeername&) { posix_only(sqe); }
void prep(io_uring_sqe* sqe, const op::SyncFileRange& o) {
  io_uring_prep_sync_file_range(sqe, o.fd, o.len, o.offset, static_cast<int>(o.flags));
}

// The payload a default-constructed op of this kind has.
template <std::size_t... I>
op::Args default_payload(BackendOpcode kind, std::index_sequence<I...>) {
  op::Args out;
  ((static_cast<std::size_t>(kind) == I ? (void)out.emplace<I>() : (void)0), ...);
  return out;
}
op::Args default_payload(BackendOpcode kind) {
  return default_payload(kind, std::make_index_sequence<std::variant_size_v<op::Args>>{});
}

// "single_issuer defer_taskrun ...": the IORING_SETUP_* flags the backend asks for.
std::string setup_flag_names(unsigned flags) {
  static constexpr std::pair<unsigned, const char*> kNames[] = {
      {IORING_SETUP_CQSIZE, "cqsize"},
      {IORING_SETUP_SUBMIT_ALL, "submit_all"},
      {IORING_SETUP_COOP_TASKRUN, "coop_taskrun"},
      {IORING_SETUP_TASKRUN_FLAG, "taskrun_flag"},
      {IORING_SETUP_SINGLE_ISSUER, "single_issuer"},
      {IORING_SETUP_DEFER_TASKRUN, "defer_taskrun"},
  };
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if (!(flags & bit)) continue;
    if (!out.empty()) out += ' ';
    out += name;
  }
  return out;
}

class UringBackend final : public Backend {
 public:
  UringBackend() = default;
  UringBackend(const UringBackend&) = delete;
  UringBackend& operator=(const UringBackend&) = delete;
  ~UringBackend() override {
    if (initialised_) io_uring_queue_exit(&ring_);
  }

  // Returns 0 or -errno; on failure `error` says why.
  int init(unsigned entries, unsigned worker_share, std::optional<KernelVersion> emulate, std::string& error) {
    kernel_ = running_kernel();
    emulate_ = emulate;
    // The emulated release and the running one (when uname's answer parses;
    // a kernel it cannot tell is judged by io_uring's answers alone).
    for (const auto& [version, emulated] :
         {std::pair{emulate.value_or(kUringFloor), true}, std::pair{kernel_.version, false}}) {
      if (version == KernelVersion{} || version >= kUringFloor) continue;
      error = "Linux " + version.str() + (emulated ? " (--emulate-kernel)" : "") +
              " is older than the io_uring backend's floor, " + kUringFloor.str();
      return -EOPNOTSUPP;
    }
    // Preferred first; each later set drops a feature an older kernel lacks.
    // An emulated kernel skips the sets it would have refused.
    const unsigned attempts[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
            IORING_SETUP_SUBMIT_ALL,                                                      // 6.1
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,  // 5.19
        0,
    };
    int ret = -EINVAL;
    for (unsigned flags : attempts) {
      flags |= IORING_SETUP_CQSIZE;
      if (emulate && uring_setup_flags_in(flags, *emulate) != flags) continue;
      io_uring_params p{};
      p.flags = flags;
      p.cq_entries = entries * 4;
      ret = io_uring_queue_init_params(entries, &ring_, &p);
      if (ret == 0) {
        setup_flags_ = p.flags;
        // liburing reads ring_.features too (EXT_ARG: how to wait with a
        // timeout), so an emulated kernel's features steer it as they would.
        if (emulate) ring_.features = uring_features_in(p.features, *emulate);
        features_ = ring_.features;
        break;
      }
      if (ret != -EINVAL) break;
    }
    if (ret < 0) {
      error = ret == -EPERM || ret == -ENOSYS
                  ? "io_uring is disabled on this system (kernel.io_uring_disabled, seccomp or "
                    "an old kernel): " +
                        std::string(std::strerror(-ret))
                  : "io_uring_setup failed: " + std::string(std::strerror(-ret));
      return ret;
    }
    initialised_ = true;
    if (!(features_ & IORING_FEAT_NODROP)) {
      error = "this kernel's io_uring lacks IORING_FEAT_NODROP (the io_uring backend needs Linux " + kUringFloor.str() +
              " or later)";
      return -EOPNOTSUPP;
    }
    if (io_uring_probe* probe = io_uring_get_probe_ring(&ring_)) {
      for (unsigned op = 0; op < supported_.size(); ++op) {
        const auto since = uring_opcode_since(static_cast<std::uint8_t>(op));
        supported_[op] =
            io_uring_opcode_supported(probe, static_cast<int>(op)) != 0 && (!emulate || (since && *since <= *emulate));
      }
      io_uring_free_probe(probe);
    }
    supported_[kPosixOnly] = false;
    socket_commands_ = probe_socket_commands();
    emulated_ = std::make_unique<posix::PosixBackend>(entries);
    emulated_->set_worker_share(worker_share);
    if (const int err = emulated_->init(error); err < 0) return err;
    spdlog::debug("io_uring backend: {} entries, setup flags {:#x}, features {:#x}", entries, setup_flags_, features_);
    return 0;
  }

  BackendInfo info() const override { return {"io_uring", true}; }

  BackendReport report() const override {
    BackendReport r = emulated_->report();
    r.emulated_kernel = emulate_ ? emulate_->str() : "";
    r.setup = setup_flag_names(setup_flags_);
    for (std::size_t i = 0; i < r.ops.size(); ++i) {
      const auto kind = static_cast<BackendOpcode>(i);
      r.ops[i].route = route_of(kind);
      r.ops[i].ring = on_ring_.get(kind);
    }
    return r;
  }

  // What the ring lacks runs emulated.
  bool supports(BackendOpcode op) const override { return op < BackendOpcode::count; }

  unsigned space() const override {
    const unsigned ring = io_uring_sq_space_left(&ring_) - (lone_read_ ? 1 : 0);
    return std::min(ring, emulated_->space());
  }

  int prepare(const BackendOp& op, Completion* done) override {
    io_uring_sqe filled{};
    std::visit([&filled](const auto& args) { prep(&filled, args); }, op.args);
    bool emulate;
    if (op.is<op::LinkTimeout>()) {
      emulate = link_to_emulated_;
    } else if (op.is<op::Cancel>()) {
      emulate = emulated_->holds(op.as<op::Cancel>().target);
    } else if (filled.opcode == IORING_OP_URING_CMD) {
      emulate = !socket_commands_ || !is_socket(filled.fd);
    } else {
      // never_inline: the posix part's workers, not io-wq, whose retry of an
      // op on a pollable file (a pipe) runs on this thread once it is ready.
      emulate = !supported_[filled.opcode] || op.never_inline;
    }
    link_to_emulated_ = emulate && op.link != Link::none && !op.is<op::LinkTimeout>();
    if (emulate) return prepare_emulated(op, done);
    // A second op for the ring: the held read goes first, as prepared.
    if (lone_read_ && put_lone_read_on_ring() < 0) return -EAGAIN;
    if (may_read_at_once(op) && io_uring_sq_ready(&ring_) == 0 && io_uring_sq_space_left(&ring_) > 0) {
      lone_read_ = LoneRead{op.as<op::Read>(), op.personality, done};
    } else if (const int err = put_on_ring(filled, op.link, op.personality, done); err < 0) {
      return err;
    }
    on_ring_.add(op.opcode());  // a read tried at once counts as the ring's: it is its route
    return 0;
  }

  int cancel(Completion* target) override {
    if (emulated_->holds(target)) return emulated_->cancel(target);
    if (lone_read_ && put_lone_read_on_ring() < 0) return -EAGAIN;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return -EAGAIN;
    io_uring_prep_cancel(sqe, target, 0);
    io_uring_sqe_set_data(sqe, &g_ignored);
    return 0;
  }

  int flush() override {
    const int emulated = emulated_->flush();
    const int read_at_once = lone_read_ && read_at_once_or_ring() ? 1 : 0;
    if (io_uring_sq_ready(&ring_) == 0) return emulated + read_at_once;
    ++syscalls_;
    // GETEVENTS too: what the submission itself woke (a send's peer recv on
    // this ring) is deferred task work, run by this same call instead of
    // the next drain's io_uring_get_events.
    const int ret = io_uring_submit_and_get_events(&ring_);
    return ret < 0 ? ret : ret + emulated + read_at_once;
  }

  int drain() override {
    // Deferred task work and overflowed completions only reach the CQ ring
    // when we enter the kernel; the kernel raises these flags when that is due.
    const unsigned sq_flags = IO_URING_READ_ONCE(*ring_.sq.kflags);
    if (sq_flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) {
      ++syscalls_;
      io_uring_get_events(&ring_);
    }
    int total = emulated_->drain();
    if (!read_at_once_done_.empty()) {
      // Swapped out first: a completion may prepare (and flush) more.
      std::swap(read_at_once_done_, delivering_);
      for (const auto& [done, res] : delivering_) done->complete(res);
      total += static_cast<int>(delivering_.size());
      delivering_.clear();
    }
    for (;;) {
      // Copy results out and release the slots before running completions:
      // a completion may prepare and flush new work.
      std::array<io_uring_cqe*, 256> cqes;
      const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes.data(), cqes.size());
      if (n == 0) break;
      // Left uninitialised: only the first `kept` are written and read (a
      // std::pair would zero all 4 KiB on every reap).
      struct Result {
        Completion* done;
        int res;
      };
      std::array<Result, 256> results;
      unsigned kept = 0;
      for (unsigned i = 0; i < n; ++i) {
        // Without IORING_FEAT_EXT_ARG (before 5.11) liburing waits with a
        // timeout by queueing a TIMEOUT of its own: its CQE is nobody's.
        if (cqes[i]->user_data == LIBURING_UDATA_TIMEOUT) continue;
        results[kept++] = {static_cast<Completion*>(io_uring_cqe_get_data(cqes[i])), cqes[i]->res};
      }
      io_uring_cq_advance(&ring_, n);
      for (unsigned i = 0; i < kept; ++i) results[i].done->complete(results[i].res);
      total += static_cast<int>(kept);
    }
    return total;
  }

  int wait(std::optional<std::chrono::nanoseconds> timeout) override {
    if (lone_read_) (void)read_at_once_or_ring();
    if (!read_at_once_done_.empty()) return 0;  // a result waits for drain()
    // Emulated ops still to finish: sleep no longer than their timers, and
    // with the ring watching the eventfd their workers write when one ends.
    bool emulated_sleeping = false;
    if (emulated_->busy()) {
      const std::uint64_t now = posix::TimerQueue::now_ns();
      const posix::PosixBackend::SleepPlan plan = emulated_->begin_sleep();
      if (plan.results_waiting) {
        timeout = std::chrono::nanoseconds(0);
      } else {
        emulated_sleeping = true;
        // Without the poll (no SQE to be had) the ring wakes to look every millisecond.
        if (!arm_emulated_wake() && (!timeout || *timeout > std::chrono::milliseconds(1))) {
          timeout = std::chrono::milliseconds(1);
        }
        if (plan.deadline_ns) {
          const auto left = std::chrono::nanoseconds(*plan.deadline_ns > now ? *plan.deadline_ns - now : 0);
          if (!timeout || left < *timeout) timeout = left;
        }
      }
    }
    const int ret = wait_ring(timeout);
    if (emulated_sleeping) emulated_->end_sleep();
    return ret;
  }

  int wait_ring(std::optional<std::chrono::nanoseconds> timeout) {
    io_uring_cqe* cqe = nullptr;
    ++syscalls_;
    int ret;
    if (timeout) {
      __kernel_timespec ts = timespec_from_ns<__kernel_timespec>(*timeout);
      ret = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
      // Without EXT_ARG (before 5.11) liburing reports a wait its own timer
      // ended as success, with no CQE: the expiry is -ETIME all the same.
      if (ret >= 0 && cqe == nullptr && !(features_ & IORING_FEAT_EXT_ARG)) return -ETIME;
    } else {
      ret = io_uring_submit_and_wait(&ring_, 1);
    }
    return ret < 0 ? ret : 0;
  }

  // Both backends capture the calling thread's credentials; the ring's id
  // names both.
  int register_personality() override {
    ++syscalls_;
    const int id = io_uring_register_personality(&ring_);
    if (id < 0) return id;
    const int emulated_id = emulated_->register_personality();
    if (emulated_id < 0) {
      io_uring_unregister_personality(&ring_, id);
      return emulated_id;
    }
    emulated_personality_[static_cast<std::uint16_t>(id)] = static_cast<std::uint16_t>(emulated_id);
    return id;
  }

  void unregister_personality(std::uint16_t id) override {
    ++syscalls_;
    io_uring_unregister_personality(&ring_, id);
    if (const auto it = emulated_personality_.find(id); it != emulated_personality_.end()) {
      emulated_->unregister_personality(it->second);
      emulated_personality_.erase(it);
    }
  }

  std::uint64_t syscalls() const override { return syscalls_ + emulated_->syscalls(); }

 private:
  // The ring's eventfd poll on the emulated backend's wake-up: its result
  // only says "look"; drain() collects what finished.
  class EmulatedWake final : public Completion {
   public:
    explicit EmulatedWake(UringBackend& backend) : backend_(backend) {}
    void complete(int) override {
      backend_.wake_armed_ = false;
      std::uint64_t value;
      (void)!::read(backend_.emulated_->wake_fd(), &value, sizeof(value));  // non-blocking
    }

   private:
    UringBackend& backend_;
  };

  // A read held back by prepare(), to be tried at once if it stays the
  // turn's only op for the ring (see the top of this file).
  struct LoneRead {
    op::Read read;
    std::uint16_t personality;
    Completion* done;
  };

  // Longer reads gain little (the copy outweighs io_uring_enter), and a
  // partly cached one would be read twice.
  static constexpr std::uint32_t kMaxReadAtOnce = 64 * 1024;

  static bool may_read_at_once(const BackendOp& op) {
    const auto* r = std::get_if<op::Read>(&op.args);
    if (r == nullptr || op.link != Link::none || !r->try_at_once) return false;
    // At the file position a tried read would move it, and could not be
    // handed to the ring after all.
    return r->offset != op::kCurrentPosition && r->len <= kMaxReadAtOnce;
  }

  int put_on_ring(const io_uring_sqe& filled, Link link, std::uint16_t personality, Completion* done) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return -EAGAIN;
    *sqe = filled;
    if (link == Link::soft) sqe->flags |= IOSQE_IO_LINK;
    if (link == Link::hard) sqe->flags |= IOSQE_IO_HARDLINK;
    sqe->personality = personality;
    io_uring_sqe_set_data(sqe, done);
    return 0;
  }

  // Room for it was kept (space()), and prepare() and cancel() put it first
  // whenever another entry is wanted, so this cannot fail; if it ever did,
  // the read would stay held, not be lost.
  int put_lone_read_on_ring() {
    io_uring_sqe filled{};
    prep(&filled, lone_read_->read);
    const int ret = put_on_ring(filled, Link::none, lone_read_->personality, lone_read_->done);
    if (ret == 0) lone_read_.reset();
    return ret;
  }

  // Tries the held read without waiting; true when it finished (its result
  // waits for drain()), false when it went to the ring instead.
  bool read_at_once_or_ring() {
    const op::Read& read = lone_read_->read;
    const iovec one{read.buf, read.len};
    ++syscalls_;
    const ssize_t r = ::preadv2(read.fd, &one, 1, static_cast<off_t>(read.offset), RWF_NOWAIT);
    // Every byte, or the end of the file at the offset: what the ring would
    // have said. A short count may be a page not yet cached (the ring would
    // read on): the ring reads it all again.
    if (r == static_cast<ssize_t>(read.len) || r == 0) {
      read_at_once_done_.emplace_back(lone_read_->done, static_cast<int>(r));
      lone_read_.reset();
      return true;
    }
    // Anything else, errors included, is the ring's to say.
    if (r < 0 && errno == EOPNOTSUPP && read.at_once_refused != nullptr) *read.at_once_refused = true;
    (void)put_lone_read_on_ring();
    return false;
  }

  int prepare_emulated(const BackendOp& op, Completion* done) {
    BackendOp copy = op;
    if (op.personality != 0) {
      const auto it = emulated_personality_.find(op.personality);
      if (it == emulated_personality_.end()) return -EINVAL;
      copy.personality = it->second;
    }
    return emulated_->prepare(copy, done);
  }

  // Whether this ring runs socket commands on every kind of socket. The
  // first releases with them (6.7 and a few after) refused sockets whose
  // protocol has no ioctl, AF_UNIX among them, with -EOPNOTSUPP; so an
  // AF_UNIX socket of the daemon's own is asked for its SO_TYPE, once,
  // before the ring holds anything else.
  bool probe_socket_commands() {
    if (!supported_[IORING_OP_URING_CMD]) return false;
    if (emulate_ && *emulate_ < kSocketCommandsSince) return false;
    const UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sock || sqe == nullptr) return false;
    int type = 0;
    prep_socket_command(sqe, kSocketGetsockopt, sock.get(), SOL_SOCKET, SO_TYPE, &type, sizeof(type));
    io_uring_sqe_set_data(sqe, &g_ignored);
    ++syscalls_;
    if (io_uring_submit_and_wait(&ring_, 1) < 0) return false;
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(&ring_, &cqe) != 0 || cqe == nullptr) return false;
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    return res == static_cast<int>(sizeof(type)) && type == SOCK_STREAM;
  }

  // Whether `fd` is a socket: a getsockopt that never blocks and, on any
  // other file, fails before touching it.
  bool is_socket(int fd) {
    int type = 0;
    socklen_t len = sizeof(type);
    ++syscalls_;
    return ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
  }

  bool arm_emulated_wake() {
    if (wake_armed_) return true;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      ++syscalls_;
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) return false;
    }
    io_uring_prep_poll_add(sqe, emulated_->wake_fd(), POLLIN);
    io_uring_sqe_set_data(sqe, &emulated_wake_);
    wake_armed_ = true;
    return true;
  }

  // Where an op of this kind goes in the ordinary case: prep() a default
  // payload (no AF_UNIX path, no foreign namespace) and look at its opcode.
  OpRoute route_of(BackendOpcode kind) const {
    if (kind == BackendOpcode::link_timeout || kind == BackendOpcode::cancel)
      return OpRoute::ring;  // follow their target
    io_uring_sqe filled{};
    std::visit([&filled](const auto& args) { prep(&filled, args); }, default_payload(kind));
    if (filled.opcode == kPosixOnly) return OpRoute::posix;
    if (filled.opcode == IORING_OP_URING_CMD) return socket_commands_ ? OpRoute::ring : OpRoute::emulated;
    return supported_[filled.opcode] ? OpRoute::ring : OpRoute::emulated;
  }

  io_uring ring_{};
  bool initialised_ = false;
  RunningKernel kernel_;
  std::optional<KernelVersion> emulate_;
  OpCounts on_ring_;
  unsigned setup_flags_ = 0;
  unsigned features_ = 0;
  std::bitset<256> supported_;  // by io_uring opcode, from the probe
  bool socket_commands_ = false;  // probe_socket_commands()
  std::uint64_t syscalls_ = 0;
  std::unique_ptr<posix::PosixBackend> emulated_;
  std::map<std::uint16_t, std::uint16_t> emulated_personality_;  // ring id -> emulated_'s id
  bool link_to_emulated_ = false;                                // the last op prepared went to emulated_ with a link
  EmulatedWake emulated_wake_{*this};
  bool wake_armed_ = false;
  std::optional<LoneRead> lone_read_;                           // held by prepare() until flush()
  std::vector<std::pair<Completion*, int>> read_at_once_done_;  // results for drain()
  std::vector<std::pair<Completion*, int>> delivering_;         // drain()'s copy of them
};

}  // namespace

std::unique_ptr<Backend> make_uring_backend(unsigned entries, unsigned worker_share,
                                            std::optional<KernelVersion> emulate_kernel, std::string& error) {
  auto backend = std::make_unique<UringBackend>();
  if (backend->init(entries, worker_share, emulate_kernel, error) < 0) return nullptr;
  return backend;
}

}  // namespace aiod::daemon
