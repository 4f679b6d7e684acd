// Errors that reach a user.
//
// hm::Error is the one exception type the library throws for anything a user
// can cause or fix (bad input, a dead peer, a full disk). Its message is one
// line that names the thing that failed, with the offending value, and reads
// well after "error: ". UsageError marks mistakes in how a command was called
// (the binaries exit 2 for it, 1 for any other Error).
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace hm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message) {}
};

// Throws hm::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Throws hm::Error with the message when `condition` is false:
//   require(rows <= max, "batch of {} rows exceeds --max-batch-size {}", rows, max);
template <typename... Args>
void require(bool condition, fmt::format_string<Args...> format, Args&&... args) {
  if (!condition) throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace hm
