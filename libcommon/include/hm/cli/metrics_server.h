// serve_metrics: what --metrics HOST:PORT starts (hm/cli/metrics_flag.h).
#pragma once

#include <memory>
#include <string>

#include "hm/io/metrics_http.h"

namespace hm::cli {

// Starts the metrics server when `address` is set (nullptr otherwise) and
// logs "metrics at http://127.0.0.1:9100/metrics". Throws hm::UsageError for
// a malformed address and hm::Error when it cannot be bound.
std::unique_ptr<io::MetricsHttpServer> serve_metrics(const std::string& address);

}  // namespace hm::cli
