#include "hm/dht/node_group.h"

#include <algorithm>
#include <random>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/io/pending.h"

namespace hm::dht {

namespace {
constexpr size_t kWave = 32;
constexpr const char* kStopped = "the node group stopped before every node joined";
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

NodeGroup::NodeGroup(io::EventLoop& loop, const DhtConfig& base, size_t count) {
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

kj::Promise<void> NodeGroup::bootstrap(std::vector<io::Endpoint> peers, bool allow_alone) {
  std::weak_ptr<int> alive = alive_;
  return nodes_[0]
      ->bootstrap(peers)
      .then([peers] { return peers; },
            [allow_alone](kj::Exception&& e) -> std::vector<io::Endpoint> {
              if (!allow_alone) throw kj::mv(e);
              spdlog::warn("{}; starting a swarm of our own (--allow-alone)",
                           e.getDescription().cStr());
              return {};
            })
      .then([this, alive](std::vector<io::Endpoint> joined_through) {
        if (alive.expired()) throw io::failure(kStopped);
        return join_waves(1, std::move(joined_through));
      });
}

kj::Promise<void> NodeGroup::join_waves(size_t first, std::vector<io::Endpoint> peers) {
  if (first >= nodes_.size()) return kj::READY_NOW;
  size_t end = std::min(nodes_.size(), first + kWave);
  std::mt19937 rng(static_cast<uint32_t>(first));
  auto joins = kj::heapArrayBuilder<kj::Promise<void>>(end - first);
  for (size_t i = first; i < end; ++i) {
    std::vector<io::Endpoint> via{reachable_address(nodes_[0]->address())};
    for (int j = 0; j < 2; ++j) via.push_back(reachable_address(nodes_[rng() % first]->address()));
    for (size_t j = 0; j < peers.size() && j < 2; ++j) via.push_back(peers[j]);
    std::sort(via.begin(), via.end(), [](const io::Endpoint& a, const io::Endpoint& b) {
      return a.to_string() < b.to_string();
    });
    via.erase(std::unique(via.begin(), via.end()), via.end());
    joins.add(nodes_[i]->bootstrap(std::move(via)).catch_([](kj::Exception&& e) {
      throw io::failure(fmt::format("a node of the swarm could not join: {}",
                                    e.getDescription().cStr()));
    }));
  }
  std::weak_ptr<int> alive = alive_;
  return kj::joinPromises(joins.finish()).then([this, alive, end, peers = std::move(peers)] {
    if (alive.expired()) throw io::failure(kStopped);
    return join_waves(end, peers);
  });
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
