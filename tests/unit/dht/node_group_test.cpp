// Swarms of many nodes in one process: every key stored from one node is
// found from every node, and keys survive nodes stopping.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "hm/dht/node_group.h"
#include "node_group_fixture.h"

namespace hm::dht {
namespace {

using testing::NodeGroupTest;
using testing::test_config;

// Big swarms share one loop thread, which a slow machine (or a sanitizer)
// can stall for a while: give answers a second before counting a peer dead.
DhtConfig swarm_config() {
  DhtConfig config = test_config();
  config.protocol.request_timeout = 1.0;
  return config;
}

class Swarm : public NodeGroupTest {
 protected:
  std::vector<StoreEntry> make_entries(const std::string& prefix, size_t count) {
    std::vector<StoreEntry> entries;
    double expiration = system_dht_time() + 300;
    for (size_t i = 0; i < count; ++i) {
      entries.push_back({prefix + std::to_string(i), std::nullopt, "value of " + std::to_string(i),
                         expiration});
    }
    return entries;
  }

  static std::vector<std::string> keys_of(const std::vector<StoreEntry>& entries) {
    std::vector<std::string> keys;
    for (const auto& e : entries) keys.push_back(e.key);
    return keys;
  }

  // Stops `count` random nodes other than those in `keep`.
  void stop_random(size_t count, std::set<DhtNode*> keep, uint32_t seed) {
    std::mt19937 rng(seed);
    for (size_t stopped = 0; stopped < count;) {
      size_t i = rng() % nodes.size();
      if (keep.count(nodes[i].get())) continue;
      nodes.erase(nodes.begin() + static_cast<std::ptrdiff_t>(i));
      ++stopped;
    }
  }

  // A fresh client-mode node (empty cache) that joins through `via`.
  DhtNode& fresh_reader(DhtNode& via) {
    DhtConfig config = swarm_config();
    config.protocol.client_mode = true;
    DhtNode& reader = add_node(config);
    EXPECT_EQ(bootstrap(reader, {via.address()}), "");
    return reader;
  }

  size_t count_found(DhtNode& reader, const std::vector<StoreEntry>& entries) {
    auto got = get(reader, keys_of(entries));
    size_t found = 0;
    for (size_t i = 0; i < entries.size() && i < got.size(); ++i) {
      found += got[i].has_value() && got[i]->value == entries[i].value;
    }
    return found;
  }
};

TEST_F(Swarm, SixtyFourNodesFindEveryKeyAndSurviveAFifthStopping) {
  grow(64, swarm_config());
  for (auto& node : nodes) EXPECT_GE(node->routing_table().size(), 20u);
  DhtNode& storer = *nodes[5];
  auto read_everywhere = make_entries("everywhere.", 64);
  auto read_later = make_entries("later.", 200);
  auto ok = store(storer, read_everywhere);
  EXPECT_EQ(ok, std::vector<bool>(64, true));
  ok = store(storer, read_later);
  EXPECT_EQ(ok, std::vector<bool>(200, true));
  // A dictionary built from several nodes.
  double t = system_dht_time() + 300;
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(store(*nodes[10 + i], {{"grid.", std::to_string(i), "expert" + std::to_string(i), t}}),
              std::vector<bool>{true});
  }

  for (auto& node : nodes) {
    ASSERT_EQ(count_found(*node, read_everywhere), read_everywhere.size())
        << "from node " << node->address().to_string();
  }
  auto grid = get(*nodes[40], {"grid."}, true);
  ASSERT_TRUE(grid[0].has_value());
  EXPECT_EQ(grid[0]->subkeys.size(), 8u);

  stop_random(13, {&storer}, 99);  // 20%
  ASSERT_EQ(nodes.size(), 51u);
  for (auto& node : nodes) {
    ASSERT_EQ(count_found(*node, read_everywhere), read_everywhere.size());
  }
  // Keys nobody read yet, from a reader with an empty cache: replicas only.
  DhtNode& reader = fresh_reader(*nodes[1]);
  size_t found = count_found(reader, read_later);
  EXPECT_GE(found * 100, read_later.size() * 99) << found << " of " << read_later.size();
}

// The bar: 256 nodes, a quarter stop, at least 99% of keys found.
TEST_F(Swarm, QuarterOfTwoHundredFiftySixStoppedKeepsNinetyNinePercent) {
  grow(256, swarm_config());
  auto entries = make_entries("quarter.", 1000);
  DhtNode& storer = *nodes[17];
  auto ok = store(storer, entries);
  EXPECT_EQ(std::count(ok.begin(), ok.end(), true), 1000);
  DhtNode& before = fresh_reader(*nodes[100]);
  EXPECT_EQ(count_found(before, entries), entries.size());
  nodes.pop_back();  // that reader (it cached everything)
  stop_random(64, {}, 7);
  DhtNode& reader = fresh_reader(*nodes[3]);
  size_t found = count_found(reader, entries);
  RecordProperty("found_after_quarter_stopped", static_cast<int>(found));
  EXPECT_GE(found * 100, entries.size() * 99) << found << " of " << entries.size();
}

TEST_F(Swarm, GarbageAtOneNodeDoesNotDisturbTheSwarm) {
  grow(16, swarm_config());
  auto entries = make_entries("garbage.", 50);
  EXPECT_EQ(store(*nodes[2], entries), std::vector<bool>(50, true));
  io::UdpSocket attacker(loop());
  attacker.bind(io::Endpoint::parse("127.0.0.1:0", "test"));
  std::mt19937_64 rng(5);
  DhtNode& victim = *nodes[7];
  for (int volley = 0; volley < 20; ++volley) {
    for (int i = 0; i < 25; ++i) {
      std::vector<std::byte> junk(1 + rng() % 1500);
      for (auto& b : junk) b = static_cast<std::byte>(rng());
      attacker.send(victim.address(), junk);
    }
    run_for(0.01);
  }
  EXPECT_GT(victim.stats().protocol.dropped(), 0u);
  EXPECT_EQ(count_found(victim, entries), entries.size());
  EXPECT_EQ(count_found(*nodes[11], entries), entries.size());
}

// dht::NodeGroup itself (hm-dht --nodes, hm-bench dht): waves of joins.
class Group : public testing::LoopTest {};

TEST_F(Group, FortyNodesJoinInTwoWaves) {
  NodeGroup group(event_loop(), test_config(), 40);
  ASSERT_EQ(error_of(group.bootstrap({}, false), 60), "");
  for (size_t i = 0; i < group.size(); ++i) {
    EXPECT_GE(group.node(i).routing_table().size(), 3u) << "node " << i;
  }
  EXPECT_NE(group.summary().find("nodes=40"), std::string::npos) << group.summary();
  group.stop(39);
  EXPECT_EQ(group.size(), 39u);
}

TEST_F(Group, SilentInitialPeerFailsUnlessAllowedAlone) {
  io::UdpSocket silent(loop());
  silent.bind(io::Endpoint::parse("127.0.0.1:0", "test"));
  NodeGroup strict(event_loop(), test_config(), 2);
  std::string error = error_of(strict.bootstrap({silent.local_endpoint()}, false));
  EXPECT_NE(error.find("none of the 1 initial peers answered"), std::string::npos) << error;

  NodeGroup alone(event_loop(), test_config(), 2);
  ASSERT_EQ(error_of(alone.bootstrap({silent.local_endpoint()}, true)), "");
  EXPECT_TRUE(alone.node(1).routing_table().contains(alone.node(0).id()));
}

}  // namespace
}  // namespace hm::dht
