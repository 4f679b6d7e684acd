// For tests of the tools' commands: the message of the hm::UsageError that
// `body` throws, or "" when it throws none (other exceptions propagate).
#pragma once

#include <functional>
#include <string>

#include "hm/base/error.h"

namespace hm::test {

inline std::string usage_error(const std::function<void()>& body) {
  try {
    body();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace hm::test
