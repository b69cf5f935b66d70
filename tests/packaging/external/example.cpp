// SPDX-License-Identifier: MIT
// aiod-example: a program that uses libaiod from an installed package.
//
//   AIOD_SOCKET=/run/aiod.sock aiod-example [FILE]
//
// Writes a line to FILE (default aiod-example.txt, created 0644 with the
// caller's umask), syncs it and reads it back in one linked batch, all
// through the daemon, then checks what came back. Leaves the file in place so
// callers can see whose it is. Prints "ok: ..." and exits 0, or says what
// failed and exits 1.
#include <aiod/aiod.hpp>

#include <cstdio>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "aiod-example.txt";
  auto client = aiod::Client::connect({.name = "aiod-example"});
  if (!client) {
    std::fprintf(stderr, "aiod-example: connect: %s\n", client.message().c_str());
    return 1;
  }

  aiod::Handle file;
  if (auto ec = client->single(
          aiod::OpenAt{.path = path, .flags = O_RDWR | O_CREAT | O_TRUNC, .mode = 0644, .out_file = &file})) {
    std::fprintf(stderr, "aiod-example: open %s: %s\n", path, ec.message().c_str());
    return 1;
  }
  const std::string_view text = "written through aiod\n";
  char back[64] = {};
  std::size_t written = 0;
  std::size_t read = 0;
  // Soft links: the fsync runs only if the write succeeded, the read only if both did.
  if (auto ec = client->multi(
          aiod::Write{.file = file, .buffer = text, .offset = 0, .out_written = &written, .link = aiod::Link::soft},
          aiod::Fsync{.file = file, .link = aiod::Link::soft},
          aiod::Read{.file = file, .buffer = back, .offset = 0, .out_read = &read})) {
    std::fprintf(stderr, "aiod-example: write+fsync+read %s: %s\n", path, ec.message().c_str());
    return 1;
  }
  (void)client->single(aiod::CloseFile{.file = file});
  if (written != text.size() || std::string_view(back, read) != text) {
    std::fprintf(stderr, "aiod-example: read back %zu bytes that differ from the %zu written\n", read, written);
    return 1;
  }
  std::printf("ok: %zu bytes through aiod %s (session %llu)\n", read, client->info().daemon_version.c_str(),
              static_cast<unsigned long long>(client->info().session_id));
  return 0;
}
