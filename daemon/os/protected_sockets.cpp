// SPDX-License-Identifier: MIT
#include "os/protected_sockets.hpp"

#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

namespace aiod::daemon {
namespace {

struct Protected {
  std::vector<std::pair<dev_t, ino_t>> files;
  std::vector<std::string> abstract_names;
};

Protected& protected_set() {
  static Protected set;
  return set;
}

}  // namespace

void protect_socket(std::string_view address) {
  if (address.empty()) return;
  if (address.front() == '@') {
    protected_set().abstract_names.emplace_back(address.substr(1));
    return;
  }
  struct stat st {};
  if (::stat(std::string(address).c_str(), &st) == 0) protected_set().files.emplace_back(st.st_dev, st.st_ino);
}

bool is_protected_socket(dev_t dev, ino_t ino) {
  for (const auto& [d, i] : protected_set().files) {
    if (d == dev && i == ino) return true;
  }
  return false;
}

bool is_protected_abstract(std::string_view name) {
  for (const std::string& n : protected_set().abstract_names) {
    if (n == name) return true;
  }
  return false;
}

}  // namespace aiod::daemon
