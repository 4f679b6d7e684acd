// MetricsHttpServer: serves a metrics::Registry to Prometheus (--metrics):
// GET /metrics (and HEAD) in the text exposition format 0.0.4, over a
// minimal HTTP/1.1 (one request per connection, then close), on a thread and
// a libuv loop of its own, so a scrape never waits on, nor delays, the
// process's RPC/DHT loop. Collectors of the registry run on that thread.
//
// It faces whatever connects to it: requests are capped (headers over
// max_header_bytes get 431), a connection that sends no full request within
// request_timeout_ms is closed, and at most max_connections are open at once
// (past that, the oldest connection already answered or still silent is
// closed to make room, so a scraper still gets served). Refusals are logged
// at debug level only.
//
// Threads: construct and destroy on one owner thread; address() from any.
// The destructor stops the loop, closes every connection and joins.
// Errors: the constructor throws hm::Error naming the address and the reason
// ("--metrics 127.0.0.1:80: cannot listen: permission denied").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "hm/base/address.h"
#include "hm/base/metrics.h"

namespace hm::io {

class MetricsHttpServer {
 public:
  struct Limits {
    size_t max_connections = 64;
    uint64_t request_timeout_ms = 10000;  // from accept to a full request
    size_t max_header_bytes = 8192;       // request line and headers, with the blank line
  };

  // Binds `address` (port 0: any free port) and starts the thread.
  MetricsHttpServer(metrics::Registry& registry, const HostPort& address);
  MetricsHttpServer(metrics::Registry& registry, const HostPort& address, Limits limits);
  ~MetricsHttpServer();  // stops the thread, closes every connection
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The bound address: numeric host, real port.
  HostPort address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hm::io
