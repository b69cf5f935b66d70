// SPDX-License-Identifier: MIT
// file_io — the first example: file IO through aiod, the zig-aio way.
//
// Opens a file, writes to it and reads it back in one soft-linked chain, then
// runs a batch of nops and a timeout, printing what came back.
//
//   AIOD_SOCKET=/tmp/aiod.sock ./file_io [path]
#include <aiod/aiod.hpp>

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "aiod-example.txt";
  auto client = aiod::Client::connect({.name = "file_io example"});
  if (!client) {
    std::fprintf(stderr, "connect: %s\n", client.message().c_str());
    return 1;
  }
  std::printf("connected: session %llu, aiod %s (%s)\n", static_cast<unsigned long long>(client->info().session_id),
              client->info().daemon_version.c_str(), client->info().backend.c_str());

  aiod::Handle file;
  if (auto ec = client->single(
          aiod::OpenAt{.path = path, .flags = O_RDWR | O_CREAT | O_TRUNC, .mode = 0644, .out_file = &file})) {
    std::fprintf(stderr, "open %s: %s\n", path, ec.message().c_str());
    return 1;
  }

  // One batch, three ops, run in order: a failure would cancel the rest.
  const std::string text = "hello from aiod: these bytes went through a shared-memory ring";
  char buf[128] = {};
  std::size_t written = 0, read = 0;
  if (auto ec = client->multi(
          aiod::Write{.file = file, .buffer = text, .offset = 0, .out_written = &written, .link = aiod::Link::soft},
          aiod::Fsync{.file = file, .link = aiod::Link::soft},
          aiod::Read{.file = file, .buffer = buf, .offset = 0, .out_read = &read})) {
    std::fprintf(stderr, "write+fsync+read: %s\n", ec.message().c_str());
    return 1;
  }
  std::printf("wrote %zu bytes, read back %zu: \"%.*s\"\n", written, read, static_cast<int>(read), buf);

  // A Dynamic queue: 64 nops, completed in one go.
  aiod::Dynamic queue(*client, 64);
  for (int i = 0; i < 64; ++i) (void)queue.queue(aiod::Nop{.userdata = static_cast<std::uint64_t>(i)});
  auto done = queue.complete_all();
  std::printf("64 nops: %s\n", done ? (std::to_string(*done) + " failed").c_str() : done.message().c_str());

  const auto start = std::chrono::steady_clock::now();
  (void)client->single(aiod::Timeout{.duration = std::chrono::milliseconds(20)});
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("a 20 ms timeout took %.1f ms\n", ms);

  (void)client->single(aiod::CloseFile{.file = file});
  std::remove(path);
  return 0;
}
