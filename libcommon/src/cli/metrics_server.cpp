#include "hm/cli/metrics_server.h"

#include "hm/base/address.h"
#include "hm/base/log.h"

namespace hm::cli {

std::unique_ptr<io::MetricsHttpServer> serve_metrics(const std::string& address) {
  if (address.empty()) return nullptr;
  auto server = std::make_unique<io::MetricsHttpServer>(metrics::default_registry(),
                                                        parse_host_port(address, "--metrics"));
  spdlog::info("metrics at http://{}/metrics", server->address().to_string());
  return server;
}

}  // namespace hm::cli
