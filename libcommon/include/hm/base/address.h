// HostPort: a "host:port" address as users type it ("127.0.0.1:0",
// "[::1]:7000", "localhost:7000"). Plain value type; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hm {

struct HostPort {
  std::string host;  // without brackets for IPv6
  uint16_t port = 0;

  // "host:port", with brackets around an IPv6 host.
  std::string to_string() const;
  bool operator==(const HostPort&) const = default;
};

// Parses "host:port". Throws hm::UsageError naming `what` (e.g. "--listen")
// and the text when the form is wrong or the port is not 0..65535. With
// `default_port` >= 0 a bare "host" is accepted and gets that port.
HostPort parse_host_port(std::string_view text, std::string_view what,
                         int default_port = -1);

}  // namespace hm
