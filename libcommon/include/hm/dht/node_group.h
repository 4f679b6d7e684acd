// NodeGroup: many DhtNodes on one loop, joined into one swarm (hm-dht
// --nodes N, simulations, benchmarks, tests).
//
// Node i listens on the base config's host, at its port + i when that port
// is not 0 (else on any free port). bootstrap() joins node 0 to the initial
// peers (or starts it alone), then the others in waves of 32 that join
// concurrently, each through node 0, two random earlier nodes and up to two
// of the initial peers.
//
// Threads: loop thread only. Lifetime: owns its nodes; destroying it stops them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hm/dht/node.h"

namespace hm::dht {

// Where a process on this host reaches a node bound at `bound`: the same
// address, except that a wildcard host (0.0.0.0, ::) becomes loopback.
io::Endpoint reachable_address(const io::Endpoint& bound);

class NodeGroup {
 public:
  // Binds `count` nodes (count >= 1). Throws hm::Error when one cannot bind.
  NodeGroup(io::EventLoop& loop, const DhtConfig& base, size_t count);

  // Resolves once every node joined. With initial peers of which none
  // answers, rejects with the error unless `allow_alone`, in which case
  // node 0 starts a swarm of its own. Rejects when a later node cannot join.
  // The promise must not outlive the group.
  kj::Promise<void> bootstrap(std::vector<io::Endpoint> peers, bool allow_alone);

  size_t size() const { return nodes_.size(); }
  DhtNode& node(size_t i) { return *nodes_[i]; }
  const DhtNode& node(size_t i) const { return *nodes_[i]; }
  // Stops node i (the others keep their indices shifted down by one).
  void stop(size_t i);

  // One line for logs: node count, routing-table sizes, keys stored and
  // cached, lookups running, datagrams dropped.
  std::string summary() const;

 private:
  // Joins nodes [first, first + 32), then the next wave.
  kj::Promise<void> join_waves(size_t first, std::vector<io::Endpoint> peers);

  std::vector<std::unique_ptr<DhtNode>> nodes_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace hm::dht
