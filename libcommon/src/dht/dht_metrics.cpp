#include "hm/dht/dht_metrics.h"

#include <chrono>
#include <future>
#include <string>

#include "hm/base/log.h"
#include "hm/base/metrics.h"

namespace hm::dht {

// The nodes' stats, read on the loop thread while the owner lives.
struct DhtMetrics::Source {
  std::function<std::vector<DhtStats>()> stats;
  bool alive = true;  // loop thread
};

namespace {

metrics::Gauge& gauge(const char* name, const char* help) {
  return metrics::default_registry().gauge(name, help).only();
}

metrics::Counter& counter(const char* name, const char* help) {
  return metrics::default_registry().counter(name, help).only();
}

void publish(const std::vector<DhtStats>& nodes) {
  static auto& node_count = gauge("hm_dht_nodes", "DHT nodes this process runs");
  static auto& peers = gauge("hm_dht_routing_peers", "Peers in the routing tables");
  static auto& stored = gauge("hm_dht_stored_keys", "Keys stored (as a replica)");
  static auto& cached = gauge("hm_dht_cached_keys", "Keys cached from lookups");
  static auto& lookups = gauge("hm_dht_lookups_running", "DHT lookups running now");
  static auto& blacklisted =
      gauge("hm_dht_blacklisted_peers", "Peers skipped for a while after failing to answer");
  static auto& received = counter("hm_dht_datagrams_received_total", "UDP datagrams received");
  static auto& served = counter("hm_dht_requests_served_total",
                                "Requests (ping, store, find) answered");
  static auto& rate_limited = counter(
      "hm_dht_requests_rate_limited_total",
      "Requests dropped by the per-peer rate limit (--dht-max-rps)");
  static auto& sent = counter("hm_dht_requests_sent_total", "Requests sent (first attempts)");
  static auto& timeouts = counter("hm_dht_request_timeouts_total",
                                  "Requests sent that were never answered");
  static auto& dropped = metrics::default_registry().counter(
      "hm_dht_datagrams_dropped_total",
      "Datagrams dropped unread, by reason (oversized, truncated, malformed, unsolicited, "
      "wrong-address, rate-limited)",
      {"reason"});
  DhtStats sum;
  for (const auto& s : nodes) {
    sum.routing_peers += s.routing_peers;
    sum.stored_keys += s.stored_keys;
    sum.cached_keys += s.cached_keys;
    sum.lookups += s.lookups;
    sum.blacklisted += s.blacklisted;
    sum.protocol += s.protocol;
  }
  const auto d = [](auto value) { return static_cast<double>(value); };
  node_count.set(d(nodes.size()));
  peers.set(d(sum.routing_peers));
  stored.set(d(sum.stored_keys));
  cached.set(d(sum.cached_keys));
  lookups.set(d(sum.lookups));
  blacklisted.set(d(sum.blacklisted));
  const auto& p = sum.protocol;
  received.advance_to(d(p.datagrams));
  served.advance_to(d(p.requests_served));
  rate_limited.advance_to(d(p.rate_limited));
  sent.advance_to(d(p.requests_sent));
  timeouts.advance_to(d(p.timeouts));
  dropped.with({"oversized"}).advance_to(d(p.oversized));
  dropped.with({"truncated"}).advance_to(d(p.truncated));
  dropped.with({"malformed"}).advance_to(d(p.malformed));
  dropped.with({"unsolicited"}).advance_to(d(p.unsolicited));
  dropped.with({"wrong-address"}).advance_to(d(p.wrong_address));
  dropped.with({"rate-limited"}).advance_to(d(p.rate_limited));
}

}  // namespace

DhtMetrics::DhtMetrics(io::EventLoop& loop, std::function<std::vector<DhtStats>()> stats)
    : source_(std::make_shared<Source>(Source{std::move(stats)})) {
  publish(source_->stats());  // the series exist from the start
  collector_ = metrics::CollectorHandle([&loop, source = source_] {
    auto read = std::make_shared<std::promise<std::vector<DhtStats>>>();
    auto result = read->get_future();
    loop.post([read, source] {
      read->set_value(source->alive ? source->stats() : std::vector<DhtStats>{});
    });
    if (result.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
      spdlog::warn("metrics: the DHT loop did not answer within 1 s; DHT values are stale");
      return;
    }
    publish(result.get());
  });
}

DhtMetrics::~DhtMetrics() {
  source_->alive = false;
  collector_.reset();
}

}  // namespace hm::dht
