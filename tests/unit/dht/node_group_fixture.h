// Many DhtNodes on one test loop, bootstrapped into one swarm.
#pragma once

#include <memory>
#include <random>
#include <vector>

#include "hm/dht/node.h"
#include "loop_fixture.h"

namespace hm::dht::testing {

inline DhtConfig test_config() {
  DhtConfig config;
  config.listen = io::Endpoint::parse("127.0.0.1:0", "test");
  config.protocol.request_timeout = 0.25;
  config.protocol.retries = 1;
  return config;
}

class NodeGroupTest : public LoopTest {
 protected:
  ~NodeGroupTest() override { nodes.clear(); }

  DhtNode& add_node(DhtConfig config = test_config()) {
    nodes.push_back(std::make_unique<DhtNode>(event_loop(), std::move(config)));
    return *nodes.back();
  }

  // Bootstraps `node` from `peers`; returns the error ("" on success).
  std::string bootstrap(DhtNode& node, std::vector<io::Endpoint> peers) {
    return error_of(node.bootstrap(std::move(peers)), 30);
  }

  // Adds `count` nodes, each joining through node 0 and two random earlier
  // nodes, in waves of 16 that bootstrap concurrently.
  void grow(size_t count, DhtConfig config = test_config()) {
    std::mt19937 rng(17);
    size_t first = nodes.size();
    for (size_t i = 0; i < count; ++i) add_node(config);
    if (first == 0) {
      ASSERT_EQ(bootstrap(*nodes[0], {}), "");
      first = 1;
    }
    for (size_t wave = first; wave < nodes.size(); wave += 16) {
      size_t end = std::min(nodes.size(), wave + 16);
      auto joins = kj::heapArrayBuilder<kj::Promise<void>>(end - wave);
      for (size_t i = wave; i < end; ++i) {
        std::vector<io::Endpoint> peers{nodes[0]->address()};
        for (int j = 0; j < 2; ++j) peers.push_back(nodes[rng() % wave]->address());
        joins.add(nodes[i]->bootstrap(peers));
      }
      ASSERT_EQ(error_of(kj::joinPromises(joins.finish()), 60), "");
    }
  }

  std::vector<bool> store(DhtNode& node, std::vector<StoreEntry> entries) {
    return settle(node.store(std::move(entries)), 60).value_or(std::vector<bool>{});
  }

  std::vector<std::optional<StoredValue>> get(DhtNode& node, std::vector<std::string> keys,
                                              bool latest = false) {
    return settle(node.get(std::move(keys), latest), 60).value_or(DhtNode::Values{});
  }

  std::vector<std::unique_ptr<DhtNode>> nodes;
};

}  // namespace hm::dht::testing
