// SPDX-License-Identifier: MIT
#include "aiod/error.hpp"

namespace aiod {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "aiod"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::daemon_not_running:
        return "aiod is not running (nothing listens on the socket)";
      case errc::daemon_gone:
        return "the connection to aiod was lost (the daemon stopped or closed the session)";
      case errc::protocol_error:
        return "aiod protocol error";
      case errc::rejected:
        return "aiod refused the request";
      case errc::queue_full:
        return "the submission queue is full";
      case errc::arena_exhausted:
        return "no room in the shared buffer arena";
      case errc::invalid_batch:
        return "invalid batch of operations";
      case errc::some_operation_failed:
        return "at least one operation failed";
      case errc::timed_out:
        return "aiod did not answer in time";
    }
    return "unknown aiod error";
  }
};

}  // namespace

const std::error_category& category() noexcept {
  static const Category instance;
  return instance;
}

}  // namespace aiod
