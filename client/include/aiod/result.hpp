// SPDX-License-Identifier: MIT
// result.hpp — a value or an error (with an optional explanation), for calls
// that produce something. Calls that produce nothing return std::error_code.
#pragma once

#include <cassert>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include "aiod/error.hpp"

namespace aiod {

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(std::error_code ec, std::string message = {}) : v_(Failure{ec, std::move(message)}) { assert(ec); }
  Result(errc e, std::string message = {}) : Result(make_error_code(e), std::move(message)) {}

  [[nodiscard]] bool ok() const noexcept { return std::holds_alternative<T>(v_); }
  explicit operator bool() const noexcept { return ok(); }

  [[nodiscard]] T& value() & { return std::get<T>(v_); }
  [[nodiscard]] const T& value() const& { return std::get<T>(v_); }
  [[nodiscard]] T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  [[nodiscard]] std::error_code error() const noexcept { return ok() ? std::error_code() : std::get<Failure>(v_).ec; }
  // The explanation given with the error (by the daemon or the library), if any.
  [[nodiscard]] const std::string& detail() const {
    static const std::string none;
    return ok() ? none : std::get<Failure>(v_).detail;
  }
  // The error's text, with the daemon's or the library's explanation when there is one.
  [[nodiscard]] std::string message() const {
    if (ok()) return {};
    const Failure& f = std::get<Failure>(v_);
    return f.detail.empty() ? f.ec.message() : f.ec.message() + ": " + f.detail;
  }

 private:
  struct Failure {
    std::error_code ec;
    std::string detail;
  };
  std::variant<T, Failure> v_;
};

}  // namespace aiod
