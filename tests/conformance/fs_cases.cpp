// SPDX-License-Identifier: MIT
// fs_cases.cpp — path and directory ops: open_at, openat2, close_file, close_dir, statx, rename_at, unlink_at,
// mkdir_at, symlink_at.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sstream>

#include "harness.hpp"

namespace aiod::conf {
namespace {

// What an opened file shows: its first bytes, read at offset 0, then closed.
Out opened_ref(int fd) {
  if (fd < 0) return {errno, ""};
  char buf[64];
  const ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  const std::string v = n >= 0 ? "read:" + std::string(buf, static_cast<std::size_t>(n)) : "read:" + errname(errno);
  ::close(fd);
  return {0, v};
}

Out opened_aiod(Client& c, std::error_code ec, Handle h) {
  if (ec) return aio(ec);
  char buf[64];
  std::size_t n = 0;
  const std::error_code rec = c.single(Read{.file = h, .buffer = buf, .offset = 0, .out_read = &n});
  const std::string v = rec ? "read:" + errname(rec.value()) : "read:" + std::string(buf, n);
  if (const std::error_code cec = c.single(CloseFile{.file = h}); cec) return {0, v + " close:" + cec.message()};
  return {0, v};
}

Out ref_open(Ctx& x, const char* path, int flags, mode_t mode = 0) {
  return opened_ref(::openat(x.dirfd, path, flags | O_CLOEXEC, mode));
}

Out aiod_open(Ctx& x, const char* path, int flags, mode_t mode = 0) {
  Handle h;
  const auto ec = x.client->single(OpenAt{.dir = x.dirh, .path = path, .flags = flags, .mode = mode, .out_file = &h});
  return opened_aiod(*x.client, ec, h);
}

Case open_case(std::string name, int want, std::function<void(Ctx&)> setup, const char* path, int flags,
               mode_t mode = 0) {
  return Case{.op = "open_at",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref = [=](Ctx& x) { return ref_open(x, path, flags, mode); },
              .aiod = [=](Ctx& x) { return aiod_open(x, path, flags, mode); }};
}

long sys_openat2(int dirfd, const char* path, int flags, mode_t mode, std::uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = mode;
  how.resolve = resolve;
  return ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

Case openat2_case(std::string name, int want, std::function<void(Ctx&)> setup, std::string path, int flags,
                  std::uint64_t resolve, mode_t mode = 0) {
  return Case{
      .op = "openat2",
      .name = std::move(name),
      .want_err = want,
      .setup = std::move(setup),
      .ref =
          [=](Ctx& x) {
            const std::string p = path == "ABS" ? x.path("f") : path;
            return opened_ref(static_cast<int>(sys_openat2(x.dirfd, p.c_str(), flags, mode, resolve)));
          },
      .aiod =
          [=](Ctx& x) {
            const std::string p = path == "ABS" ? x.path("f") : path;
            Handle h;
            const auto ec = x.client->single(OpenAt2{
                .dir = x.dirh, .path = p.c_str(), .flags = flags, .mode = mode, .resolve = resolve, .out_file = &h});
            return opened_aiod(*x.client, ec, h);
          }};
}

std::string describe(const struct statx& st) {
  std::ostringstream o;
  o << "type=" << std::oct << (st.stx_mode & S_IFMT) << " perm=" << (st.stx_mode & 07777) << std::dec
    << " size=" << st.stx_size << " nlink=" << st.stx_nlink << " uid=" << st.stx_uid
    << " mask_basic=" << ((st.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS);
  return o.str();
}

Case statx_case(std::string name, int want, std::function<void(Ctx&)> setup, const char* path, int flags,
                bool nobody = false, bool on_object = false) {
  return Case{.op = "statx",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref =
                  [=](Ctx& x) {
                    struct statx st {};
                    const int dfd = on_object ? x.fd(0) : x.dirfd;
                    if (::statx(dfd, path, flags, STATX_BASIC_STATS, &st) != 0) return Out{errno, ""};
                    return Out{0, describe(st)};
                  },
              .aiod =
                  [=](Ctx& x) {
                    struct statx st {};
                    const Handle d = on_object ? x.h(0) : x.dirh;
                    const auto ec = x.client->single(Statx{.dir = d, .path = path, .flags = flags, .out_statx = &st});
                    return aio(ec, ec ? "" : describe(st));
                  },
              .as_nobody = nobody};
}

void file_f(Ctx& x) { make_file(x, "f", "hello"); }
void secret(Ctx& x) { make_file(x, "secret", "top secret", 0600); }
void locked_dir(Ctx& x) {
  ::mkdirat(x.dirfd, "locked", 0700);
  ::fchmodat(x.dirfd, "locked", 0700, 0);
  make_file(x, "locked/f", "inside");
}
void sub_dir(Ctx& x) { ::mkdirat(x.dirfd, "d", 0755); }

Case rename_case(std::string name, int want, std::function<void(Ctx&)> setup, const char* from, const char* to,
                 unsigned flags, bool nobody = false) {
  return Case{.op = "rename_at",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref = [=](Ctx& x) { return sys(::renameat2(x.dirfd, from, x.dirfd, to, flags)); },
              .aiod =
                  [=](Ctx& x) {
                    return aio(
                        x.client->single(RenameAt{
                            .old_dir = x.dirh, .old_path = from, .new_dir = x.dirh, .new_path = to, .flags = flags}),
                        "0");
                  },
              .as_nobody = nobody};
}

Case unlink_case(std::string name, int want, std::function<void(Ctx&)> setup, const char* path, bool rmdir,
                 bool nobody = false) {
  return Case{.op = "unlink_at",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref = [=](Ctx& x) { return sys(::unlinkat(x.dirfd, path, rmdir ? AT_REMOVEDIR : 0)); },
              .aiod =
                  [=](Ctx& x) {
                    return aio(x.client->single(UnlinkAt{.dir = x.dirh, .path = path, .remove_dir = rmdir}), "0");
                  },
              .as_nobody = nobody};
}

Case mkdir_case(std::string name, int want, std::function<void(Ctx&)> setup, const char* path, mode_t mode,
                bool nobody = false) {
  return Case{
      .op = "mkdir_at",
      .name = std::move(name),
      .want_err = want,
      .setup = std::move(setup),
      .ref = [=](Ctx& x) { return sys(::mkdirat(x.dirfd, path, mode)); },
      .aiod = [=](Ctx& x) { return aio(x.client->single(MkdirAt{.dir = x.dirh, .path = path, .mode = mode}), "0"); },
      .as_nobody = nobody};
}

Case symlink_case(std::string name, int want, std::function<void(Ctx&)> setup, const char* target, const char* link,
                  bool nobody = false) {
  return Case{.op = "symlink_at",
              .name = std::move(name),
              .want_err = want,
              .setup = std::move(setup),
              .ref = [=](Ctx& x) { return sys(::symlinkat(target, x.dirfd, link)); },
              .aiod =
                  [=](Ctx& x) {
                    return aio(x.client->single(SymlinkAt{.target = target, .dir = x.dirh, .link_path = link}), "0");
                  },
              .as_nobody = nobody};
}

// Closes object 0 twice, then reads it: the second close and the read see a closed name.
template <class CloseOp>
Case close_case(std::string op, std::string name, std::function<void(Ctx&)> setup, bool twice) {
  return Case{.op = op,
              .name = std::move(name),
              .setup = std::move(setup),
              .ref =
                  [=](Ctx& x) {
                    std::string v = step("close", sys_ok(::close(x.fd(0))));
                    if (twice) v += step("again", sys_ok(::close(x.fd(0))));
                    char b[4];
                    v += step("read", sys(::read(x.fd(0), b, sizeof b)));
                    x.forget(0);
                    return Out{0, v};
                  },
              .aiod =
                  [=](Ctx& x) {
                    CloseOp close_op{};
                    if constexpr (requires { close_op.file; })
                      close_op.file = x.h(0);
                    else
                      close_op.dir = x.h(0);
                    std::string v = step("close", aio(x.client->single(close_op)));
                    if (twice) v += step("again", aio(x.client->single(close_op)));
                    char b[4];
                    std::size_t n = 0;
                    const auto ec = x.client->single(Read{.file = x.h(0), .buffer = b, .out_read = &n});
                    v += step("read", aio(ec, std::to_string(n)));
                    return Out{0, v};
                  }};
}

}  // namespace

std::vector<Case> fs_cases() {
  std::vector<Case> cs;
  // --- open_at
  cs.push_back(open_case("reads_an_existing_file", 0, file_f, "f", O_RDONLY));
  cs.push_back(open_case("creates_with_mode_under_umask", 0, nullptr, "new", O_CREAT | O_WRONLY, 0666));
  cs.push_back(open_case("excl_on_existing_is_eexist", EEXIST, file_f, "f", O_CREAT | O_EXCL | O_WRONLY, 0644));
  cs.push_back(open_case("missing_is_enoent", ENOENT, nullptr, "missing", O_RDONLY));
  cs.push_back(open_case("directory_for_writing_is_eisdir", EISDIR, sub_dir, "d", O_WRONLY));
  cs.push_back(open_case("o_directory_on_a_file_is_enotdir", ENOTDIR, file_f, "f", O_RDONLY | O_DIRECTORY));
  cs.push_back(open_case("tmpfile_read_only_is_einval", EINVAL, nullptr, ".", O_TMPFILE | O_RDONLY, 0600));
  cs.push_back(open_case("truncates_with_o_trunc", 0, file_f, "f", O_RDWR | O_TRUNC));
  {
    Case c = open_case("mode_without_create", 0, file_f, "f", O_RDONLY, 0644);
    c.difference =
        "a mode without O_CREAT or O_TMPFILE is refused (EINVAL) where open(2) ignores it, so a mode is never "
        "silently dropped";
    c.expect = [](Out& o, std::string&) { o = {EINVAL, ""}; };
    cs.push_back(c);
  }
  {
    Case c = open_case("unreadable_as_nobody_is_eacces", EACCES, secret, "secret", O_RDONLY);
    c.as_nobody = true;
    cs.push_back(c);
  }
  // --- openat2
  cs.push_back(openat2_case("opens_beneath", 0, file_f, "f", O_RDONLY, RESOLVE_BENEATH));
  cs.push_back(openat2_case("creates_with_mode", 0, nullptr, "new", O_CREAT | O_RDWR, 0, 0640));
  cs.push_back(openat2_case(
      "no_symlinks_through_a_link_is_eloop", ELOOP,
      [](Ctx& x) {
        file_f(x);
        ::symlinkat("f", x.dirfd, "l");
      },
      "l", O_RDONLY, RESOLVE_NO_SYMLINKS));
  cs.push_back(openat2_case("beneath_with_dotdot_is_exdev", EXDEV, sub_dir, "d/../../x", O_RDONLY, RESOLVE_BENEATH));
  cs.push_back(openat2_case("unknown_resolve_bit_is_einval", EINVAL, file_f, "f", O_RDONLY, 0x1000));
  cs.push_back(openat2_case("absolute_path_beneath_is_exdev", EXDEV, file_f, "ABS", O_RDONLY, RESOLVE_BENEATH));
  // --- close_file, close_dir
  cs.push_back(close_case<CloseFile>(
      "close_file", "then_the_name_is_ebadf",
      [](Ctx& x) {
        file_f(x);
        x.add(open_file(x, "f", O_RDONLY));
      },
      false));
  cs.push_back(close_case<CloseFile>(
      "close_file", "twice_is_ebadf",
      [](Ctx& x) {
        file_f(x);
        x.add(open_file(x, "f", O_RDONLY));
      },
      true));
  cs.push_back(Case{.op = "close_file",
                    .name = "never_opened_is_ebadf",
                    .want_err = EBADF,
                    .ref = [](Ctx&) { return sys_ok(::close(4000)); },
                    .aiod = [](Ctx& x) { return aio(x.client->single(CloseFile{.file = Handle{4000}})); }});
  cs.push_back(close_case<CloseDir>(
      "close_dir", "then_the_name_is_ebadf",
      [](Ctx& x) {
        sub_dir(x);
        x.add(open_file(x, "d", O_RDONLY | O_DIRECTORY));
      },
      false));
  cs.push_back(close_case<CloseDir>(
      "close_dir", "twice_is_ebadf",
      [](Ctx& x) {
        sub_dir(x);
        x.add(open_file(x, "d", O_RDONLY | O_DIRECTORY));
      },
      true));
  cs.push_back(Case{.op = "close_dir",
                    .name = "never_opened_is_ebadf",
                    .want_err = EBADF,
                    .ref = [](Ctx&) { return sys_ok(::close(4001)); },
                    .aiod = [](Ctx& x) { return aio(x.client->single(CloseDir{.dir = Handle{4001}})); }});
  // --- statx
  cs.push_back(statx_case("by_path", 0, file_f, "f", 0));
  cs.push_back(statx_case(
      "empty_path_describes_the_handle", 0,
      [](Ctx& x) {
        file_f(x);
        x.add(open_file(x, "f", O_RDONLY));
      },
      "", AT_EMPTY_PATH, false, true));
  cs.push_back(statx_case(
      "symlink_nofollow", 0, [](Ctx& x) { ::symlinkat("nowhere", x.dirfd, "l"); }, "l", AT_SYMLINK_NOFOLLOW));
  cs.push_back(statx_case("missing_is_enoent", ENOENT, nullptr, "missing", 0));
  cs.push_back(statx_case("empty_path_without_flag_is_enoent", ENOENT, nullptr, "", 0));
  cs.push_back(statx_case("unknown_flag_is_einval", EINVAL, file_f, "f", 0x40000000));
  cs.push_back(statx_case("inside_a_locked_dir_as_nobody_is_eacces", EACCES, locked_dir, "locked/f", 0, true));
  // --- rename_at
  cs.push_back(rename_case(
      "replaces_with_flags_0", 0,
      [](Ctx& x) {
        file_f(x);
        make_file(x, "g", "old");
      },
      "f", "g", 0));
  cs.push_back(rename_case(
      "noreplace_onto_existing_is_eexist", EEXIST,
      [](Ctx& x) {
        file_f(x);
        make_file(x, "g", "old");
      },
      "f", "g", RENAME_NOREPLACE));
  cs.push_back(rename_case(
      "exchange_swaps", 0,
      [](Ctx& x) {
        file_f(x);
        make_file(x, "g", "old");
      },
      "f", "g", RENAME_EXCHANGE));
  cs.push_back(rename_case("missing_source_is_enoent", ENOENT, nullptr, "missing", "g", RENAME_NOREPLACE));
  cs.push_back(rename_case(
      "exchange_with_noreplace_is_einval", EINVAL,
      [](Ctx& x) {
        file_f(x);
        make_file(x, "g", "old");
      },
      "f", "g", RENAME_EXCHANGE | RENAME_NOREPLACE));
  cs.push_back(rename_case("in_a_root_dir_as_nobody_is_eacces", EACCES, file_f, "f", "g", RENAME_NOREPLACE, true));
  // --- unlink_at
  cs.push_back(unlink_case("removes_a_file", 0, file_f, "f", false));
  cs.push_back(unlink_case("a_directory_without_removedir_is_eisdir", EISDIR, sub_dir, "d", false));
  cs.push_back(unlink_case("removedir_removes_an_empty_directory", 0, sub_dir, "d", true));
  cs.push_back(unlink_case(
      "removedir_on_a_full_directory_is_enotempty", ENOTEMPTY,
      [](Ctx& x) {
        sub_dir(x);
        make_file(x, "d/f", "x");
      },
      "d", true));
  cs.push_back(unlink_case("removedir_on_a_file_is_enotdir", ENOTDIR, file_f, "f", true));
  cs.push_back(unlink_case("missing_is_enoent", ENOENT, nullptr, "missing", false));
  cs.push_back(unlink_case("in_a_root_dir_as_nobody_is_eacces", EACCES, file_f, "f", false, true));
  // --- mkdir_at
  cs.push_back(mkdir_case("creates_with_mode_under_umask", 0, nullptr, "d", 0777));
  cs.push_back(mkdir_case("existing_is_eexist", EEXIST, file_f, "f", 0755));
  cs.push_back(mkdir_case("missing_parent_is_enoent", ENOENT, nullptr, "no/d", 0755));
  cs.push_back(mkdir_case("in_a_root_dir_as_nobody_is_eacces", EACCES, nullptr, "d", 0755, true));
  // --- symlink_at
  cs.push_back(symlink_case("may_dangle", 0, nullptr, "../nowhere", "l"));
  cs.push_back(symlink_case("existing_is_eexist", EEXIST, file_f, "x", "f"));
  cs.push_back(symlink_case("missing_parent_is_enoent", ENOENT, nullptr, "x", "no/l"));
  cs.push_back(symlink_case("in_a_root_dir_as_nobody_is_eacces", EACCES, nullptr, "x", "l", true));
  return cs;
}

}  // namespace aiod::conf
