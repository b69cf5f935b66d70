// SPDX-License-Identifier: MIT
// buffer.hpp — byte ranges that operations read from or write into.
//
// Both types are views: the memory must stay valid until the op completes.
// Memory from Client::arena_alloc() is used in place (zero copy); any other
// memory is copied through the session's arena.
#pragma once

#include <cstddef>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace aiod {

class MutableBuffer {
 public:
  constexpr MutableBuffer() = default;
  constexpr MutableBuffer(void* data, std::size_t size) : data_(data), size_(size) {}
  template <class R>
  requires std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
      (!std::is_const_v<std::remove_reference_t<std::ranges::range_reference_t<R>>>)&&std::is_trivially_copyable_v<
          std::ranges::range_value_t<R>> constexpr MutableBuffer(R&& r)  // NOLINT: implicit by design
      : data_(std::ranges::data(r)), size_(std::ranges::size(r) * sizeof(std::ranges::range_value_t<R>)) {}

  [[nodiscard]] constexpr void* data() const noexcept { return data_; }
  [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

class ConstBuffer {
 public:
  constexpr ConstBuffer() = default;
  constexpr ConstBuffer(const void* data, std::size_t size) : data_(data), size_(size) {}
  constexpr ConstBuffer(MutableBuffer b) : data_(b.data()), size_(b.size()) {}     // NOLINT
  constexpr ConstBuffer(std::string_view s) : data_(s.data()), size_(s.size()) {}  // NOLINT
  ConstBuffer(const std::string& s) : data_(s.data()), size_(s.size()) {}          // NOLINT
  // A string literal without its terminating NUL.
  template <std::size_t N>
  constexpr ConstBuffer(const char (&s)[N]) : data_(s), size_(N - 1) {}  // NOLINT
  template <class R>
  requires std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
      (!std::is_array_v<std::remove_cvref_t<R>>)&&(!std::is_convertible_v<R, std::string_view>)&&std::
          is_trivially_copyable_v<std::ranges::range_value_t<R>> constexpr ConstBuffer(R&& r)  // NOLINT
      : data_(std::ranges::data(r)), size_(std::ranges::size(r) * sizeof(std::ranges::range_value_t<R>)) {}

  [[nodiscard]] constexpr const void* data() const noexcept { return data_; }
  [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }

 private:
  const void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace aiod
