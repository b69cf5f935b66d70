// SPDX-License-Identifier: MIT
#include "os/shm_region.hpp"

#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace aiod::daemon {

ShmRegion::ShmRegion(ShmRegion&& other) noexcept
    : fd_(std::move(other.fd_)), base_(std::exchange(other.base_, nullptr)), size_(std::exchange(other.size_, 0)) {}

ShmRegion& ShmRegion::operator=(ShmRegion&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::move(other.fd_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

ShmRegion::~ShmRegion() { reset(); }

void ShmRegion::reset() noexcept {
  if (base_ != nullptr) ::munmap(base_, size_);
  base_ = nullptr;
  size_ = 0;
  fd_.reset();
}

int ShmRegion::create(std::size_t size, const char* name, ShmRegion& out, std::string& error) {
  auto fail = [&](const char* step) {
    const int err = errno;
    error = std::string(step) + ": " + std::strerror(err);
    return -err;
  };
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return fail("memfd_create");
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) < 0) return fail("ftruncate(memfd)");
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) return fail("mmap(memfd)");
  ShmRegion region;
  region.fd_ = std::move(fd);
  region.base_ = static_cast<std::byte*>(base);
  region.size_ = size;
  if (::fcntl(region.fd_.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
    return fail("fcntl(F_ADD_SEALS)");
  }
  out = std::move(region);
  return 0;
}

}  // namespace aiod::daemon
