// DhtMetrics: publishes the state of the DHT nodes a process runs, summed
// over them, in the process's registry (hm/base/metrics.h), refreshed at
// every scrape:
//   hm_dht_nodes, hm_dht_routing_peers, hm_dht_stored_keys,
//   hm_dht_cached_keys, hm_dht_lookups_running, hm_dht_blacklisted_peers
//   hm_dht_datagrams_received_total, hm_dht_requests_served_total,
//   hm_dht_requests_rate_limited_total (--dht-max-rps),
//   hm_dht_datagrams_dropped_total{reason}, hm_dht_requests_sent_total,
//   hm_dht_request_timeouts_total
// (lookups done and their latency: hm_dht_lookup_seconds, observed by the
// nodes themselves).
//
// The scrape runs on the metrics thread; the nodes live on their loop, so
// it asks the loop for their stats and waits at most a second (a loop that
// busy keeps the previous values, with a warning).
//
// Threads: construct and destroy on the loop thread.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "hm/base/metrics.h"
#include "hm/dht/node.h"
#include "hm/io/event_loop.h"

namespace hm::dht {

class DhtMetrics {
 public:
  // `stats()` runs on the loop thread and returns one DhtStats per node.
  DhtMetrics(io::EventLoop& loop, std::function<std::vector<DhtStats>()> stats);
  ~DhtMetrics();
  DhtMetrics(const DhtMetrics&) = delete;
  DhtMetrics& operator=(const DhtMetrics&) = delete;

 private:
  struct Source;
  std::shared_ptr<Source> source_;
  metrics::CollectorHandle collector_;
};

}  // namespace hm::dht
