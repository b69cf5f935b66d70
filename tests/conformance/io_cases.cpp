// SPDX-License-Identifier: MIT
// io_cases.cpp — ops on open descriptors: read, write, readv, writev, fsync, fallocate, fadvise, ftruncate,
// sync_file_range, splice, poll, read_tty.
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "harness.hpp"

namespace aiod::conf {
namespace {

constexpr const char* kData = "0123456789abcdef";

// Object 0: dir/f holding kData, opened with `flags`.
std::function<void(Ctx&)> data_file(int flags) {
  return [flags](Ctx& x) {
    make_file(x, "f", kData);
    x.add(open_file(x, "f", flags));
  };
}

// Object 0: the read end of a pipe holding `data` (the write end kept as peer 0, or closed).
std::function<void(Ctx&)> pipe_with(std::string data, bool close_writer) {
  return [=](Ctx& x) {
    const auto p = make_pipe();
    if (!data.empty() && ::write(p[1], data.data(), data.size()) != static_cast<ssize_t>(data.size()))
      ADD_FAILURE() << "write to the pipe";
    x.add(p[0]);
    if (close_writer)
      ::close(p[1]);
    else
      x.keep(p[1]);
  };
}

// Object 0: the write end of a pipe (the read end kept as peer 0, or closed).
std::function<void(Ctx&)> pipe_writer(bool close_reader) {
  return [=](Ctx& x) {
    const auto p = make_pipe();
    x.add(p[1]);
    if (close_reader)
      ::close(p[0]);
    else
      x.keep(p[0]);
  };
}

// The directory, plus what peer 0 holds.
std::string dir_and_peer(Ctx& x) { return snapshot(x.dir) + "peer: " + drain(x.peer(0)); }

std::string data_of(const char* buf, long n) { return n < 0 ? "" : std::string(buf, static_cast<std::size_t>(n)); }

Case read_case(std::string name, int want, std::function<void(Ctx&)> setup, std::size_t len, std::uint64_t off,
               int reads = 1) {
  return Case{.op = "read",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref =
                  [=](Ctx& x) {
                    std::string v;
                    for (int i = 0; i < reads; ++i) {
                      char buf[64];
                      const long n = off == kOffsetCurrent ? ::read(x.fd(0), buf, len)
                                                           : ::pread(x.fd(0), buf, len, static_cast<off_t>(off));
                      if (n < 0) return Out{errno, ""};
                      v += std::to_string(n) + ":" + data_of(buf, n) + " ";
                    }
                    return Out{0, v};
                  },
              .aiod =
                  [=](Ctx& x) {
                    std::string v;
                    for (int i = 0; i < reads; ++i) {
                      char buf[64];
                      std::size_t n = 0;
                      const auto ec = x.client->single(
                          Read{.file = x.h(0), .buffer = MutableBuffer(buf, len), .offset = off, .out_read = &n});
                      if (ec) return aio(ec);
                      v += std::to_string(n) + ":" + data_of(buf, static_cast<long>(n)) + " ";
                    }
                    return Out{0, v};
                  }};
}

Case write_case(std::string name, int want, std::function<void(Ctx&)> setup, std::string data, std::uint64_t off,
                bool peer_probe = false) {
  return Case{
      .op = "write",
      .name = std::move(name),
      .want_err = want,
      .setup = std::move(setup),
      .ref =
          [=](Ctx& x) {
            return sys(off == kOffsetCurrent ? ::write(x.fd(0), data.data(), data.size())
                                             : ::pwrite(x.fd(0), data.data(), data.size(), static_cast<off_t>(off)));
          },
      .aiod =
          [=](Ctx& x) {
            std::size_t n = 0;
            const auto ec = x.client->single(Write{.file = x.h(0), .buffer = data, .offset = off, .out_written = &n});
            return aio(ec, std::to_string(n));
          },
      .probe = peer_probe ? std::function<std::string(Ctx&)>(dir_and_peer) : nullptr};
}

Case readv_case(std::string name, int want, std::function<void(Ctx&)> setup, std::uint64_t off) {
  return Case{.op = "readv",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref =
                  [=](Ctx& x) {
                    char a[3], b[20];
                    iovec iov[2] = {{a, sizeof a}, {b, sizeof b}};
                    const long n = off == kOffsetCurrent ? ::readv(x.fd(0), iov, 2)
                                                         : ::preadv(x.fd(0), iov, 2, static_cast<off_t>(off));
                    if (n < 0) return Out{errno, ""};
                    return Out{0, std::to_string(n) + ":" + data_of(a, std::min(n, 3L)) + "|" +
                                      data_of(b, std::max(n - 3, 0L))};
                  },
              .aiod =
                  [=](Ctx& x) {
                    char a[3], b[20];
                    iovec iov[2] = {{a, sizeof a}, {b, sizeof b}};
                    std::size_t n = 0;
                    const auto ec = x.client->single(Readv{.file = x.h(0), .iov = iov, .offset = off, .out_read = &n});
                    const long ln = static_cast<long>(n);
                    return aio(ec, std::to_string(n) + ":" + data_of(a, std::min(ln, 3L)) + "|" +
                                       data_of(b, std::max(ln - 3, 0L)));
                  }};
}

Case writev_case(std::string name, int want, std::function<void(Ctx&)> setup, std::uint64_t off) {
  static char a[] = "head-", b[] = "tail";
  return Case{.op = "writev",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref =
                  [=](Ctx& x) {
                    iovec iov[2] = {{a, 5}, {b, 4}};
                    return sys(off == kOffsetCurrent ? ::writev(x.fd(0), iov, 2)
                                                     : ::pwritev(x.fd(0), iov, 2, static_cast<off_t>(off)));
                  },
              .aiod =
                  [=](Ctx& x) {
                    iovec iov[2] = {{a, 5}, {b, 4}};
                    std::size_t n = 0;
                    return [&] {
                      const std::error_code ec_ =
                          x.client->single(Writev{.file = x.h(0), .iov = iov, .offset = off, .out_written = &n});
                      return aio(ec_, std::to_string(n));
                    }();
                  }};
}

// A case whose reference is one call on object 0 and whose aiod op takes object 0's handle.
Case simple(std::string op, std::string name, int want, std::function<void(Ctx&)> setup, std::function<long(int)> ref,
            std::function<std::error_code(Client&, Handle)> aiod_op) {
  return Case{.op = std::move(op),
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref = [=](Ctx& x) { return sys_ok(ref(x.fd(0))); },
              .aiod = [=](Ctx& x) { return aio(aiod_op(*x.client, x.h(0))); }};
}

// posix_fadvise returns the error instead of setting errno.
long fadvise_rc(int fd, off_t off, off_t len, int advice) {
  const int e = ::posix_fadvise(fd, off, len, advice);
  errno = e;
  return e == 0 ? 0 : -1;
}

// Object 0: a pipe's read end holding "piped"; object 1: dir/f opened for writing.
void pipe_and_file(Ctx& x) {
  pipe_with("piped", false)(x);
  make_file(x, "f", "");
  x.add(open_file(x, "f", O_WRONLY));
}

Case splice_case(std::string name, int want, std::function<void(Ctx&)> setup, std::uint64_t in_off,
                 std::uint64_t out_off, std::uint32_t len, bool peer_probe = false) {
  return Case{.op = "splice",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref =
                  [=](Ctx& x) {
                    loff_t io = static_cast<loff_t>(in_off), oo = static_cast<loff_t>(out_off);
                    return sys(::splice(x.fd(0), in_off == kOffsetCurrent ? nullptr : &io, x.fd(1),
                                        out_off == kOffsetCurrent ? nullptr : &oo, len, 0));
                  },
              .aiod =
                  [=](Ctx& x) {
                    std::size_t n = 0;
                    return [&] {
                      const std::error_code ec_ = x.client->single(Splice{.in = x.h(0),
                                                                          .in_offset = in_off,
                                                                          .out = x.h(1),
                                                                          .out_offset = out_off,
                                                                          .len = len,
                                                                          .out_written = &n});
                      return aio(ec_, std::to_string(n));
                    }();
                  },
              .probe = peer_probe ? std::function<std::string(Ctx&)>(dir_and_peer) : nullptr};
}

Case poll_case(std::string name, int want, std::function<void(Ctx&)> setup, short events) {
  return Case{.op = "poll",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref =
                  [=](Ctx& x) {
                    pollfd p{x.fd(0), events, 0};
                    const int n = ::poll(&p, 1, 5000);
                    if (n < 0) return Out{errno, ""};
                    return Out{0, "revents=" + std::to_string(p.revents)};
                  },
              .aiod =
                  [=](Ctx& x) {
                    std::uint32_t ev = 0;
                    const auto ec = x.client->single(
                        Poll{.fd = x.h(0), .events = static_cast<std::uint32_t>(events), .out_events = &ev});
                    return aio(ec, "revents=" + std::to_string(ev));
                  }};
}

// Object 0: a terminal (the slave of a new pty) with `input` typed on it; the
// master is peer 0, or closed (hung up).
std::function<void(Ctx&)> tty_with(std::string input, bool hang_up) {
  return [=](Ctx& x) {
    const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
      ADD_FAILURE() << "no pty: " << errname(errno);
      return;
    }
    const int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) ADD_FAILURE() << "open the pty's slave: " << errname(errno);
    if (!input.empty() && ::write(master, input.data(), input.size()) != static_cast<ssize_t>(input.size()))
      ADD_FAILURE() << "type on the pty";
    x.add(slave);
    if (hang_up)
      ::close(master);
    else
      x.keep(master);
  };
}

Case tty_case(std::string name, int want, std::function<void(Ctx&)> setup) {
  return Case{.op = "read_tty",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref =
                  [](Ctx& x) {
                    char buf[64];
                    const long n = ::read(x.fd(0), buf, sizeof buf);
                    if (n < 0) return Out{errno, ""};
                    return Out{0, std::to_string(n) + ":" + data_of(buf, n)};
                  },
              .aiod =
                  [](Ctx& x) {
                    char buf[64];
                    std::size_t n = 0;
                    const auto ec = x.client->single(ReadTty{.tty = x.h(0), .buffer = buf, .out_read = &n});
                    return aio(ec, std::to_string(n) + ":" + data_of(buf, static_cast<long>(n)));
                  }};
}

}  // namespace

std::vector<Case> io_cases() {
  std::vector<Case> cs;
  // --- read
  cs.push_back(read_case("at_an_offset", 0, data_file(O_RDONLY), 4, 10));
  cs.push_back(read_case("short_read_at_the_end", 0, data_file(O_RDONLY), 40, 12));
  cs.push_back(read_case("at_eof_is_0", 0, data_file(O_RDONLY), 8, 16));
  cs.push_back(read_case("current_position_advances", 0, data_file(O_RDONLY), 5, kOffsetCurrent, 3));
  cs.push_back(read_case("write_only_file_is_ebadf", EBADF, data_file(O_WRONLY), 4, 0));
  cs.push_back(read_case(
      "a_directory_is_eisdir", EISDIR, [](Ctx& x) { x.add(::open(x.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); },
      4, 0));
  cs.push_back(read_case("pipe_without_writers_is_eof", 0, pipe_with("", true), 8, kOffsetCurrent));
  cs.push_back(read_case("pipe_short_read", 0, pipe_with("abc", false), 40, kOffsetCurrent));
  cs.push_back(Case{.op = "read",
                    .name = "nonblocking_empty_pipe",
                    .want_err = EAGAIN,
                    .setup =
                        [](Ctx& x) {
                          const auto p = make_pipe();
                          ::fcntl(p[0], F_SETFL, O_NONBLOCK);
                          x.add(p[0]);
                          x.keep(p[1]);
                        },
                    .ref =
                        [](Ctx& x) {
                          char b[8];
                          return sys(::read(x.fd(0), b, sizeof b));
                        },
                    .aiod =
                        [](Ctx& x) {
                          // Bounded: a read that waits instead of failing ends with its link timeout.
                          char b[8];
                          std::size_t n = 0;
                          std::error_code rec, lt;
                          (void)x.client->complete(
                              Read{.file = x.h(0), .buffer = b, .out_read = &n, .link = Link::soft, .out_error = &rec},
                              LinkTimeout{.duration = std::chrono::milliseconds(500), .out_error = &lt});
                          return aio(rec, std::to_string(n));
                        },
                    .difference = "READ, READV, RECV and their kin wait for the descriptor to be ready whatever its "
                                  "O_NONBLOCK, on both backends: a read of an empty O_NONBLOCK pipe waits (here until "
                                  "its link timeout cancels it) where read(2) fails with EAGAIN",
                    .expect =
                        [](Out& o, std::string&) {
                          o = {ECANCELED, ""};
                        }});
  // --- write
  cs.push_back(write_case("at_an_offset", 0, data_file(O_WRONLY), "XY", 4));
  cs.push_back(write_case("past_the_end_leaves_a_hole", 0, data_file(O_WRONLY), "Z", 20));
  cs.push_back(write_case("append_ignores_the_offset", 0, data_file(O_WRONLY | O_APPEND), "++", 0));
  cs.push_back(write_case("read_only_file_is_ebadf", EBADF, data_file(O_RDONLY), "no", 0));
  cs.push_back(write_case("into_a_pipe", 0, pipe_writer(false), "through", kOffsetCurrent, true));
  cs.push_back(write_case("pipe_without_readers_is_epipe", EPIPE, pipe_writer(true), "lost", kOffsetCurrent));
  // --- readv, writev
  cs.push_back(readv_case("spreads_over_the_buffers", 0, data_file(O_RDONLY), 0));
  cs.push_back(readv_case("short_read_fills_in_order", 0, data_file(O_RDONLY), 10));
  cs.push_back(readv_case("at_the_current_position", 0, data_file(O_RDONLY), kOffsetCurrent));
  cs.push_back(readv_case("write_only_file_is_ebadf", EBADF, data_file(O_WRONLY), 0));
  cs.push_back(writev_case("gathers_at_an_offset", 0, data_file(O_WRONLY), 2));
  cs.push_back(writev_case("at_the_current_position", 0, data_file(O_WRONLY), kOffsetCurrent));
  cs.push_back(writev_case("read_only_file_is_ebadf", EBADF, data_file(O_RDONLY), 0));
  // --- fsync
  cs.push_back(simple("fsync", "a_file", 0, data_file(O_WRONLY), ::fsync,
                      [](Client& c, Handle h) { return c.single(Fsync{.file = h}); }));
  cs.push_back(simple("fsync", "datasync", 0, data_file(O_WRONLY), ::fdatasync,
                      [](Client& c, Handle h) { return c.single(Fsync{.file = h, .datasync = true}); }));
  cs.push_back(simple("fsync", "a_pipe_is_einval", EINVAL, pipe_with("", false), ::fsync,
                      [](Client& c, Handle h) { return c.single(Fsync{.file = h}); }));
  cs.push_back(Case{.op = "fsync",
                    .name = "unknown_name_is_ebadf",
                    .want_err = EBADF,
                    .ref = [](Ctx&) { return sys_ok(::fsync(4002)); },
                    .aiod = [](Ctx& x) { return aio(x.client->single(Fsync{.file = Handle{4002}})); }});
  // --- fallocate
  cs.push_back(simple(
      "fallocate", "extends_the_file", 0, data_file(O_WRONLY),
      [](int fd) { return static_cast<long>(::fallocate(fd, 0, 0, 100)); },
      [](Client& c, Handle h) { return c.single(Fallocate{.file = h, .offset = 0, .len = 100}); }));
  cs.push_back(simple(
      "fallocate", "keep_size", 0, data_file(O_WRONLY),
      [](int fd) { return static_cast<long>(::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 100)); },
      [](Client& c, Handle h) {
        return c.single(Fallocate{.file = h, .mode = FALLOC_FL_KEEP_SIZE, .offset = 0, .len = 100});
      }));
  cs.push_back(simple(
      "fallocate", "zero_length_is_einval", EINVAL, data_file(O_WRONLY),
      [](int fd) { return static_cast<long>(::fallocate(fd, 0, 0, 0)); },
      [](Client& c, Handle h) { return c.single(Fallocate{.file = h, .offset = 0, .len = 0}); }));
  cs.push_back(simple(
      "fallocate", "read_only_file_is_ebadf", EBADF, data_file(O_RDONLY),
      [](int fd) { return static_cast<long>(::fallocate(fd, 0, 0, 100)); },
      [](Client& c, Handle h) { return c.single(Fallocate{.file = h, .offset = 0, .len = 100}); }));
  // --- fadvise
  cs.push_back(simple(
      "fadvise", "willneed", 0, data_file(O_RDONLY), [](int fd) { return fadvise_rc(fd, 0, 0, POSIX_FADV_WILLNEED); },
      [](Client& c, Handle h) { return c.single(Fadvise{.file = h, .advice = POSIX_FADV_WILLNEED}); }));
  cs.push_back(simple(
      "fadvise", "unknown_advice_is_einval", EINVAL, data_file(O_RDONLY),
      [](int fd) { return fadvise_rc(fd, 0, 0, 99); },
      [](Client& c, Handle h) { return c.single(Fadvise{.file = h, .advice = 99}); }));
  cs.push_back(simple(
      "fadvise", "a_pipe_is_espipe", ESPIPE, pipe_with("", false),
      [](int fd) { return fadvise_rc(fd, 0, 0, POSIX_FADV_NORMAL); },
      [](Client& c, Handle h) { return c.single(Fadvise{.file = h}); }));
  // --- ftruncate
  cs.push_back(simple(
      "ftruncate", "shrinks", 0, data_file(O_WRONLY), [](int fd) { return static_cast<long>(::ftruncate(fd, 3)); },
      [](Client& c, Handle h) { return c.single(Ftruncate{.file = h, .length = 3}); }));
  cs.push_back(simple(
      "ftruncate", "grows_with_zeros", 0, data_file(O_WRONLY),
      [](int fd) { return static_cast<long>(::ftruncate(fd, 20)); },
      [](Client& c, Handle h) { return c.single(Ftruncate{.file = h, .length = 20}); }));
  cs.push_back(simple(
      "ftruncate", "read_only_file_is_einval", EINVAL, data_file(O_RDONLY),
      [](int fd) { return static_cast<long>(::ftruncate(fd, 3)); },
      [](Client& c, Handle h) { return c.single(Ftruncate{.file = h, .length = 3}); }));
  // --- sync_file_range
  cs.push_back(simple(
      "sync_file_range", "write_and_wait", 0, data_file(O_WRONLY),
      [](int fd) {
        return static_cast<long>(::sync_file_range(
            fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
      },
      [](Client& c, Handle h) {
        return c.single(SyncFileRange{
            .file = h, .flags = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER});
      }));
  cs.push_back(simple(
      "sync_file_range", "unknown_flags_are_einval", EINVAL, data_file(O_WRONLY),
      [](int fd) { return static_cast<long>(::sync_file_range(fd, 0, 0, 0x100)); },
      [](Client& c, Handle h) { return c.single(SyncFileRange{.file = h, .flags = 0x100}); }));
  cs.push_back(simple(
      "sync_file_range", "a_pipe_is_espipe", ESPIPE, pipe_with("", false),
      [](int fd) { return static_cast<long>(::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)); },
      [](Client& c, Handle h) { return c.single(SyncFileRange{.file = h, .flags = SYNC_FILE_RANGE_WRITE}); }));
  // --- splice
  cs.push_back(splice_case("pipe_into_a_file_at_an_offset", 0, pipe_and_file, kOffsetCurrent, 2, 64));
  cs.push_back(splice_case(
      "file_into_a_pipe", 0,
      [](Ctx& x) {
        make_file(x, "f", kData);
        x.add(open_file(x, "f", O_RDONLY));
        const auto p = make_pipe();
        x.add(p[1]);
        x.keep(p[0]);
      },
      4, kOffsetCurrent, 6, true));
  cs.push_back(splice_case(
      "neither_end_a_pipe_is_einval", EINVAL,
      [](Ctx& x) {
        make_file(x, "f", kData);
        x.add(open_file(x, "f", O_RDONLY));
        make_file(x, "g", "");
        x.add(open_file(x, "g", O_WRONLY));
      },
      0, 0, 4));
  cs.push_back(splice_case("an_offset_on_the_pipe_is_espipe", ESPIPE, pipe_and_file, 0, 0, 4));
  // --- poll
  cs.push_back(poll_case("readable_pipe", 0, pipe_with("x", false), POLLIN));
  cs.push_back(poll_case("writable_pipe", 0, pipe_writer(false), POLLOUT));
  cs.push_back(poll_case("hung_up_pipe", 0, pipe_with("", true), POLLIN));
  {
    Case c{.op = "poll",
           .name = "unknown_name",
           .ref =
               [](Ctx&) {
                 pollfd p{4003, POLLIN, 0};
                 if (::poll(&p, 1, 0) < 0) return Out{errno, ""};
                 return Out{0, "revents=" + std::to_string(p.revents)};
               },
           .aiod =
               [](Ctx& x) {
                 std::uint32_t ev = 0;
                 return [&] {
                   const std::error_code ec_ = x.client->single(Poll{.fd = Handle{4003}, .out_events = &ev});
                   return aio(ec_, "revents=" + std::to_string(ev));
                 }();
               }};
    c.difference =
        "a handle the session does not have fails the op with EBADF; poll(2) succeeds and reports POLLNVAL in "
        "revents for a descriptor that is not open";
    c.expect = [](Out& o, std::string&) { o = {EBADF, ""}; };
    cs.push_back(c);
  }
  // --- read_tty (a pty made here, so no terminal is needed)
  cs.push_back(tty_case("reads_a_line", 0, tty_with("one line\nmore\n", false)));
  cs.push_back(tty_case("hung_up_terminal_is_eof", 0, tty_with("", true)));
  cs.push_back(tty_case("data_before_the_hang_up", 0, tty_with("last\n", true)));
  return cs;
}

}  // namespace aiod::conf
