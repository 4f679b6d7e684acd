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
    nodes.push_back(std::make_unique<DhtNode>(loop(), std::move(config)));
    return *nodes.back();
  }

  // Bootstraps `node` from `peers`; returns the error ("" on success).
  std::string bootstrap(DhtNode& node, std::vector<io::Endpoint> peers) {
    std::optional<std::string> error;
    node.bootstrap(std::move(peers), [&](const std::string& e) { error = e; });
    EXPECT_TRUE(run_until([&] { return error.has_value(); }, 30));
    return error.value_or("bootstrap did not finish");
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
      size_t finished = 0;
      for (size_t i = wave; i < end; ++i) {
        std::vector<io::Endpoint> peers{nodes[0]->address()};
        for (int j = 0; j < 2; ++j) peers.push_back(nodes[rng() % wave]->address());
        nodes[i]->bootstrap(peers, [&](const std::string& error) {
          EXPECT_EQ(error, "");
          ++finished;
        });
      }
      ASSERT_TRUE(run_until([&] { return finished == end - wave; }, 60));
    }
  }

  std::vector<bool> store(DhtNode& node, std::vector<StoreEntry> entries) {
    std::optional<std::vector<bool>> result;
    node.store(std::move(entries), [&](std::vector<bool> ok) { result = std::move(ok); });
    EXPECT_TRUE(run_until([&] { return result.has_value(); }, 60));
    return result.value_or(std::vector<bool>{});
  }

  std::vector<std::optional<StoredValue>> get(DhtNode& node, std::vector<std::string> keys,
                                              bool latest = false) {
    std::optional<std::vector<std::optional<StoredValue>>> result;
    node.get(std::move(keys), latest, [&](auto values) { result = std::move(values); });
    EXPECT_TRUE(run_until([&] { return result.has_value(); }, 60));
    return result.value_or(std::vector<std::optional<StoredValue>>{});
  }

  std::vector<std::unique_ptr<DhtNode>> nodes;
};

}  // namespace hm::dht::testing
