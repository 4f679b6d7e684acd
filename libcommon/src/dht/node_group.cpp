#include "hm/dht/node_group.h"

#include <algorithm>
#include <random>

#include "hm/base/error.h"
#include "hm/base/log.h"

namespace hm::dht {

namespace {
constexpr size_t kWave = 32;
}

io::Endpoint reachable_address(const io::Endpoint& bound) {
  if (!bound.is_any()) return bound;
  if (bound.family() == AF_INET6) {
    uint8_t loopback[16] = {};
    loopback[15] = 1;
    return io::Endpoint::from_ip_bytes(loopback, bound.port());
  }
  uint8_t loopback[4] = {127, 0, 0, 1};
  return io::Endpoint::from_ip_bytes(loopback, bound.port());
}

NodeGroup::NodeGroup(uv_loop_t* loop, const DhtConfig& base, size_t count) : loop_(loop) {
  require(count >= 1, "a swarm needs at least one node, not {}", count);
  uint16_t port = base.listen.port();
  require(port == 0 || port + count - 1 <= 65535,
          "--nodes {} from port {} runs past port 65535", count, port);
  nodes_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    DhtConfig config = base;
    if (port != 0) config.listen = base.listen.with_port(static_cast<uint16_t>(port + i));
    if (i > 0) config.node_id.reset();
    nodes_.push_back(std::make_unique<DhtNode>(loop, config));
  }
}

void NodeGroup::stop(size_t i) { nodes_.erase(nodes_.begin() + static_cast<std::ptrdiff_t>(i)); }

void NodeGroup::bootstrap(std::vector<io::Endpoint> peers, bool allow_alone,
                         DhtNode::BootstrapDone done) {
  auto shared_done = std::make_shared<DhtNode::BootstrapDone>(std::move(done));
  std::weak_ptr<int> alive = alive_;
  nodes_[0]->bootstrap(peers, [this, alive, peers, allow_alone, shared_done](
                                  const std::string& error) {
    if (alive.expired()) return;
    if (!error.empty()) {
      if (!allow_alone) {
        (*shared_done)(error);
        return;
      }
      spdlog::warn("{}; starting a swarm of our own (--allow-alone)", error);
    }
    join_wave(1, error.empty() ? peers : std::vector<io::Endpoint>{}, shared_done);
  });
}

void NodeGroup::join_wave(size_t first, std::vector<io::Endpoint> peers,
                         std::shared_ptr<DhtNode::BootstrapDone> done) {
  if (first >= nodes_.size()) {
    (*done)("");
    return;
  }
  size_t end = std::min(nodes_.size(), first + kWave);
  auto remaining = std::make_shared<size_t>(end - first);
  auto failure = std::make_shared<std::string>();
  std::mt19937 rng(static_cast<uint32_t>(first));
  std::weak_ptr<int> alive = alive_;
  for (size_t i = first; i < end; ++i) {
    std::vector<io::Endpoint> via{reachable_address(nodes_[0]->address())};
    for (int j = 0; j < 2; ++j) via.push_back(reachable_address(nodes_[rng() % first]->address()));
    for (size_t j = 0; j < peers.size() && j < 2; ++j) via.push_back(peers[j]);
    std::sort(via.begin(), via.end(), [](const io::Endpoint& a, const io::Endpoint& b) {
      return a.to_string() < b.to_string();
    });
    via.erase(std::unique(via.begin(), via.end()), via.end());
    nodes_[i]->bootstrap(via, [this, alive, end, peers, remaining, failure, done](
                                  const std::string& error) {
      if (alive.expired()) return;
      if (!error.empty() && failure->empty()) *failure = error;
      if (--*remaining != 0) return;
      if (!failure->empty()) {
        (*done)("a node of the swarm could not join: " + *failure);
        return;
      }
      join_wave(end, peers, done);
    });
  }
}

std::string NodeGroup::summary() const {
  size_t min_peers = SIZE_MAX, max_peers = 0, total_peers = 0, stored = 0, cached = 0,
         lookups = 0;
  uint64_t dropped = 0, timeouts = 0;
  for (const auto& node : nodes_) {
    DhtStats s = node->stats();
    min_peers = std::min(min_peers, s.routing_peers);
    max_peers = std::max(max_peers, s.routing_peers);
    total_peers += s.routing_peers;
    stored += s.stored_keys;
    cached += s.cached_keys;
    lookups += s.lookups;
    dropped += s.protocol.dropped();
    timeouts += s.protocol.timeouts;
  }
  return fmt::format(
      "nodes={} routing_table={:.1f} (min {} max {}) stored_keys={} cached_keys={} lookups={} "
      "timeouts={} dropped_datagrams={}",
      nodes_.size(), static_cast<double>(total_peers) / static_cast<double>(nodes_.size()),
      min_peers, max_peers, stored, cached, lookups, timeouts, dropped);
}

}  // namespace hm::dht
