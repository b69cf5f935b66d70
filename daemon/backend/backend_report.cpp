// SPDX-License-Identifier: MIT
#include "backend/backend_report.hpp"

namespace aiod::daemon {

std::string_view op_route_name(OpRoute route) {
  switch (route) {
    case OpRoute::ring:
      return "ring";
    case OpRoute::emulated:
      return "emulated";
    case OpRoute::posix:
      return "posix";
  }
  return "unknown";
}

BackendReport& BackendReport::operator+=(const BackendReport& o) {
  for (std::size_t i = 0; i < ops.size(); ++i) {
    ops[i].ring += o.ops[i].ring;
    ops[i].posix += o.ops[i].posix;
  }
  return *this;
}

}  // namespace aiod::daemon
