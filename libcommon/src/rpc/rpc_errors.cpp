#include "hm/rpc/rpc_errors.h"

#include <fmt/format.h>

#include "hm/io/pending.h"

namespace hm::rpc {

kj::Exception remote_exception(std::string_view message) { return io::failure(message); }

kj::Promise<void> remote_error(std::string_view message) {
  return remote_exception(message);
}

void throw_remote(std::string_view message) { throw remote_exception(message); }

std::string describe_exception(const kj::Exception& exception) {
  std::string text = exception.getDescription().cStr();
  for (std::string_view prefix : {"remote exception: ", "std::exception: ", "remote exception: "}) {
    if (std::string_view(text).starts_with(prefix)) text.erase(0, prefix.size());
  }
  if (exception.getType() == kj::Exception::Type::DISCONNECTED &&
      text.find("disconnected") == std::string::npos && text.find("connection") == std::string::npos) {
    text = "connection lost: " + text;
  }
  auto newline = text.find('\n');
  if (newline != std::string::npos) text.resize(newline);
  return text;
}

std::string unknown_expert_message(const ExpertHost& host, std::string_view uid) {
  auto uids = host.uids();
  std::string examples;
  for (size_t i = 0; i < uids.size() && i < 3; ++i) {
    examples += (i ? ", " : "") + uids[i];
  }
  if (uids.size() > 3) examples += ", ...";
  return fmt::format("unknown expert '{}' (this server hosts {} expert{}{}{})", uid, uids.size(),
                     uids.size() == 1 ? "" : "s", uids.empty() ? "" : ": ", examples);
}

}  // namespace hm::rpc
