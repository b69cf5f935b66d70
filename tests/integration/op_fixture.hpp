// SPDX-License-Identifier: MIT
// op_fixture.hpp — a private aiod and a connected client, for op tests.
#pragma once

#include <gtest/gtest.h>

#include <aiod/aiod.hpp>
#include <optional>
#include <string>

#include "daemon_process.hpp"

namespace aiod::test {

inline std::error_code sys(int e) { return {e, std::system_category()}; }

class OpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon_.running());
    auto c = Client::connect(daemon_.client_options());
    ASSERT_TRUE(c) << c.message();
    client_.emplace(std::move(*c));
  }
  [[nodiscard]] std::string path(const std::string& name) const { return daemon_.directory() + "/" + name; }
  Handle open(const std::string& p, int flags, mode_t mode = 0) {
    Handle h;
    const std::error_code ec = client_->single(OpenAt{.path = p.c_str(), .flags = flags, .mode = mode, .out_file = &h});
    EXPECT_FALSE(ec) << p << ": " << ec.message();
    return h;
  }

  DaemonProcess daemon_;
  std::optional<Client> client_;
};

}  // namespace aiod::test
