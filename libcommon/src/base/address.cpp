#include "hm/base/address.h"

#include <charconv>

#include "hm/base/error.h"

namespace hm {

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

HostPort parse_host_port(std::string_view text, std::string_view what, int default_port) {
  auto bad = [&](std::string_view why) {
    return UsageError(fmt::format("{}: bad address '{}': {} (expected HOST:PORT, e.g. 127.0.0.1:7000)",
                                  what, text, why));
  };
  HostPort result;
  std::string_view port_text;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos) throw bad("missing ']'");
    result.host = std::string(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (rest.empty() && default_port >= 0) {
      result.port = static_cast<uint16_t>(default_port);
      return result;
    }
    if (!rest.starts_with(':')) throw bad("missing ':PORT'");
    port_text = rest.substr(1);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      if (default_port < 0) throw bad("missing ':PORT'");
      result.host = std::string(text);
      result.port = static_cast<uint16_t>(default_port);
      if (result.host.empty()) throw bad("empty host");
      return result;
    }
    if (text.find(':') != colon) throw bad("an IPv6 host needs brackets, e.g. [::1]:7000");
    result.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (result.host.empty()) throw bad("empty host");
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    throw bad("port must be a number from 0 to 65535");
  }
  result.port = static_cast<uint16_t>(port);
  return result;
}

}  // namespace hm
