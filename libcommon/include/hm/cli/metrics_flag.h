// --metrics HOST:PORT: the flag of every long-running binary (hm-serve,
// hm-dht, hm-moe train) that serves Prometheus metrics at
// http://HOST:PORT/metrics from the process's registry (hm/base/metrics.h),
// on a thread of its own (hm/io/metrics_http.h). Port 0 picks a free port;
// the log says which. Header-only (CLI11), for the tools' main.cpp; the
// commands start the server with serve_metrics (hm/cli/metrics_server.h).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace hm::cli {

inline void add_metrics_flag(CLI::App& app, std::string& address) {
  app.add_option("--metrics", address,
                 "Serve Prometheus metrics at http://HOST:PORT/metrics (port 0: any free port, "
                 "logged at start); default: off")
      ->type_name("HOST:PORT");
}

}  // namespace hm::cli
