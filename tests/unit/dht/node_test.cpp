#include "hm/dht/node.h"

#include <gtest/gtest.h>

#include "node_group_fixture.h"

namespace hm::dht {
namespace {

using testing::NodeGroupTest;
using testing::test_config;

double in(double seconds) { return system_dht_time() + seconds; }

class NodeTest : public NodeGroupTest {};

TEST_F(NodeTest, LoneNodeStoresAndGetsLocally) {
  DhtNode& node = add_node();
  ASSERT_EQ(bootstrap(node, {}), "");
  double expiration = in(60);
  auto ok = store(node, {{"key", std::nullopt, "value", expiration}});
  EXPECT_EQ(ok, std::vector<bool>{true});
  auto got = get(node, {"key", "missing"});
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(got[0].has_value());
  EXPECT_EQ(got[0]->value, "value");
  EXPECT_EQ(got[0]->expiration, expiration);
  EXPECT_FALSE(got[1].has_value());
  EXPECT_EQ(node.storage().size(), 1u);
}

TEST_F(NodeTest, TwoNodesFindEachOthersValues) {
  DhtNode& a = add_node();
  DhtNode& b = add_node();
  ASSERT_EQ(bootstrap(a, {}), "");
  ASSERT_EQ(bootstrap(b, {a.address()}), "");
  EXPECT_TRUE(a.routing_table().contains(b.id()));
  EXPECT_TRUE(b.routing_table().contains(a.id()));
  double expiration = in(60);
  EXPECT_EQ(store(a, {{"k1", std::nullopt, "v1", expiration}}), std::vector<bool>{true});
  // Both are among the 5 nearest: both hold it.
  EXPECT_EQ(a.storage().size(), 1u);
  EXPECT_EQ(b.storage().size(), 1u);
  auto got = get(b, {"k1"});
  ASSERT_TRUE(got[0].has_value());
  EXPECT_EQ(got[0]->value, "v1");
  EXPECT_EQ(got[0]->expiration, expiration);
}

TEST_F(NodeTest, BootstrapFailsWhenNoPeerAnswers) {
  io::UdpSocket silent(loop());
  silent.bind(io::Endpoint::parse("127.0.0.1:0", "test"));
  DhtNode& node = add_node();
  std::string error = bootstrap(node, {silent.local_endpoint()});
  EXPECT_NE(error.find("none of the 1 initial peers answered"), std::string::npos) << error;
  EXPECT_NE(error.find(silent.local_endpoint().to_string()), std::string::npos) << error;
}

TEST_F(NodeTest, ExpiredValuesAreRefusedAndNotFound) {
  grow(3);
  auto ok = store(*nodes[0], {{"old", std::nullopt, "v", in(-10)}});
  EXPECT_EQ(ok, std::vector<bool>{false});
  EXPECT_FALSE(get(*nodes[2], {"old"})[0].has_value());
}

TEST_F(NodeTest, StoreIfNewerAcrossTheSwarm) {
  grow(8);
  double t = in(100);
  EXPECT_EQ(store(*nodes[1], {{"k", std::nullopt, "new", t}}), std::vector<bool>{true});
  EXPECT_EQ(store(*nodes[2], {{"k", std::nullopt, "older", t - 10}}), std::vector<bool>{false});
  EXPECT_EQ(store(*nodes[2], {{"k", std::nullopt, "same", t}}), std::vector<bool>{false});
  auto got = get(*nodes[5], {"k"}, true);
  ASSERT_TRUE(got[0].has_value());
  EXPECT_EQ(got[0]->value, "new");
}

TEST_F(NodeTest, SubkeysMergeIntoOneDictionary) {
  grow(10);
  double t = in(100);
  EXPECT_EQ(store(*nodes[1], {{"experts.", std::string("1"), "A", t}}), std::vector<bool>{true});
  EXPECT_EQ(store(*nodes[2], {{"experts.", std::string("2"), "B", t + 1}}), std::vector<bool>{true});
  EXPECT_EQ(store(*nodes[3], {{"experts.", std::string("1"), "stale", t - 1}}),
            std::vector<bool>{false});
  auto got = get(*nodes[7], {"experts."}, true);
  ASSERT_TRUE(got[0].has_value());
  ASSERT_TRUE(got[0]->is_dictionary);
  EXPECT_EQ(got[0]->expiration, t + 1);
  ASSERT_EQ(got[0]->subkeys.size(), 2u);
  EXPECT_EQ(got[0]->subkeys.at("1").value, "A");
  EXPECT_EQ(got[0]->subkeys.at("1").expiration, t);
  EXPECT_EQ(got[0]->subkeys.at("2").value, "B");
}

TEST_F(NodeTest, ExactlyNumReplicasHoldAKeyAndOverwritesDoNotGrowStorage) {
  grow(20);
  double t = in(100);
  EXPECT_EQ(store(*nodes[3], {{"replicated", std::nullopt, "v", t}}), std::vector<bool>{true});
  auto holders = [&] {
    size_t n = 0;
    for (auto& node : nodes) n += node->storage().size();
    return n;
  };
  EXPECT_EQ(holders(), 5u);
  EXPECT_EQ(store(*nodes[9], {{"replicated", std::nullopt, "v2", t + 1}}), std::vector<bool>{true});
  EXPECT_EQ(holders(), 5u);
}

TEST_F(NodeTest, LatestReadsPastACachedOldValue) {
  grow(12);
  double t = in(100);
  ASSERT_EQ(store(*nodes[0], {{"k", std::nullopt, "old", t}}), std::vector<bool>{true});
  DhtNode& reader = *nodes[11];
  bool reader_holds = reader.storage().size() > 0;
  ASSERT_EQ(get(reader, {"k"})[0]->value, "old");  // now cached by the reader
  if (!reader_holds) {
    EXPECT_EQ(reader.cache().size(), 1u);
  }
  ASSERT_EQ(store(*nodes[1], {{"k", std::nullopt, "new", t + 50}}), std::vector<bool>{true});
  auto latest = get(reader, {"k"}, true);
  ASSERT_TRUE(latest[0].has_value());
  EXPECT_EQ(latest[0]->value, "new");
  EXPECT_EQ(latest[0]->expiration, t + 50);
}

TEST_F(NodeTest, ConcurrentGetsOfOneKeyShareOneLookup) {
  grow(10);
  ASSERT_EQ(store(*nodes[0], {{"shared", std::nullopt, "v", in(100)}}), std::vector<bool>{true});
  // A reader that holds nothing: it must ask the network.
  DhtNode* reader = nullptr;
  for (auto& node : nodes) {
    if (node->storage().size() == 0 && node->cache().size() == 0) reader = node.get();
  }
  ASSERT_NE(reader, nullptr);
  auto first_get = reader->get({"shared"}, false);
  auto second_get = reader->get({"shared", "shared"}, false);
  EXPECT_EQ(reader->stats().lookups, 1u);
  auto first = settle(kj::mv(first_get));
  auto second = settle(kj::mv(second_get));
  ASSERT_TRUE(first && second);
  ASSERT_TRUE((*first)[0].has_value());
  ASSERT_EQ(second->size(), 2u);
  EXPECT_EQ((*second)[0]->value, "v");
  EXPECT_EQ((*second)[1]->value, "v");
}

TEST_F(NodeTest, GetCachesLocallyAndOnTheNearestNodeThatLackedIt) {
  grow(16);
  ASSERT_EQ(store(*nodes[0], {{"popular", std::nullopt, "v", in(100)}}), std::vector<bool>{true});
  auto cached_total = [&] {
    size_t n = 0;
    for (auto& node : nodes) n += node->cache().size();
    return n;
  };
  size_t before = cached_total();  // node 0 cached it on store
  DhtNode* reader = nullptr;
  for (auto& node : nodes) {
    if (node->storage().size() == 0 && node->cache().size() == 0) reader = node.get();
  }
  ASSERT_NE(reader, nullptr);
  // A full traversal (latest) visits every replica, so a node nearer than
  // the source but without it in its cache is among those visited.
  ASSERT_TRUE(get(*reader, {"popular"}, true)[0].has_value());
  EXPECT_EQ(reader->cache().size(), 1u);
  ASSERT_TRUE(run_until([&] { return cached_total() >= before + 2; }));
}

TEST_F(NodeTest, NewCloserNodeReceivesKeysByHandoff) {
  grow(12);
  ASSERT_EQ(store(*nodes[0], {{"handed", std::nullopt, "v", in(100)}}), std::vector<bool>{true});
  DhtConfig config = test_config();
  config.node_id = NodeId::from_key("handed");  // the closest possible id
  DhtNode& newcomer = add_node(config);
  ASSERT_EQ(bootstrap(newcomer, {nodes[0]->address()}), "");
  ASSERT_TRUE(run_until([&] { return newcomer.storage().size() == 1; }));
}

TEST_F(NodeTest, DeadPeersAreRemovedAndBlacklisted) {
  grow(6);
  DhtNode& survivor = *nodes[0];
  NodeId dead_id = nodes[5]->id();
  ASSERT_TRUE(survivor.routing_table().contains(dead_id));
  nodes.pop_back();  // stops it
  // A lookup aimed at the dead node's id asks it first.
  auto nearest = settle(survivor.find_nearest(dead_id, 5));
  ASSERT_TRUE(nearest.has_value());
  EXPECT_FALSE(survivor.routing_table().contains(dead_id));
  EXPECT_GE(survivor.stats().blacklisted, 1u);
  for (const auto& peer : *nearest) EXPECT_NE(peer.id, dead_id);
}

TEST_F(NodeTest, PeerWithSkewedClockIsFlagged) {
  DhtNode& a = add_node();
  DhtConfig config = test_config();
  config.protocol.clock = [] { return system_dht_time() + 10; };
  DhtNode& late = add_node(config);
  ASSERT_EQ(bootstrap(a, {}), "");
  ASSERT_EQ(bootstrap(late, {a.address()}), "");
  EXPECT_TRUE(a.is_skewed(late.id()));
  EXPECT_TRUE(late.is_skewed(a.id()));
  EXPECT_EQ(a.stats().skewed_peers, 1u);
  DhtNode& on_time = add_node();
  ASSERT_EQ(bootstrap(on_time, {a.address()}), "");
  EXPECT_FALSE(a.is_skewed(on_time.id()));
}

TEST_F(NodeTest, PingReportsThePeersId) {
  DhtNode& a = add_node();
  DhtNode& b = add_node();
  auto reply = settle(a.ping(b.address()));
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->has_value()) << "b did not answer";
  EXPECT_EQ((*reply)->sender.id, b.id());
}

TEST_F(NodeTest, PingOfASilentPeerIsNoAnswerNotAnError) {
  io::UdpSocket silent(loop());
  silent.bind(io::Endpoint::parse("127.0.0.1:0", "test"));
  DhtNode& a = add_node();
  auto reply = settle(a.ping(silent.local_endpoint()));
  ASSERT_TRUE(reply.has_value());
  EXPECT_FALSE(reply->has_value());
}

TEST_F(NodeTest, StoppingANodeRejectsWhatItWasStillDoing) {
  io::UdpSocket silent(loop());
  silent.bind(io::Endpoint::parse("127.0.0.1:0", "test"));
  DhtNode& a = add_node();
  auto joining = a.bootstrap({silent.local_endpoint()});
  auto pinging = a.ping(silent.local_endpoint());
  nodes.clear();  // before the silent peer's timeout
  EXPECT_EQ(error_of(kj::mv(joining)), "the DHT node stopped before the request finished");
  EXPECT_EQ(error_of(pinging.ignoreResult()), "the DHT node stopped before the request finished");
}

TEST_F(NodeTest, CachedValueIsRefreshedBeforeItExpires) {
  DhtConfig config = test_config();
  config.cache_refresh_before_expiry = 2;
  grow(8, config);
  double t = in(3);  // refresh due ~1 s from now
  ASSERT_EQ(store(*nodes[0], {{"fresh", std::nullopt, "v1", t}}), std::vector<bool>{true});
  DhtNode* reader = nullptr;
  for (auto& node : nodes) {
    if (node->storage().size() == 0 && node->cache().size() == 0) reader = node.get();
  }
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(get(*reader, {"fresh"})[0].has_value());  // cached now
  ASSERT_TRUE(get(*reader, {"fresh"})[0].has_value());  // read from the cache: scheduled
  EXPECT_EQ(reader->stats().refresh_queue, 1u);
  ASSERT_EQ(store(*nodes[0], {{"fresh", std::nullopt, "v2", in(120)}}), std::vector<bool>{true});
  ASSERT_TRUE(run_until([&] {
    return reader->stats().refresh_queue == 0 && reader->stats().lookups == 0;
  }));
  auto got = get(*reader, {"fresh"});
  ASSERT_TRUE(got[0].has_value());
  EXPECT_EQ(got[0]->value, "v2");
}

TEST_F(NodeTest, StaleBucketsAreRefreshed) {
  DhtConfig config = test_config();
  config.refresh_interval = 0.5;
  grow(4, config);
  uint64_t before = nodes[1]->stats().protocol.requests_sent;
  ASSERT_TRUE(run_until([&] { return nodes[1]->stats().protocol.requests_sent > before; }));
}

TEST_F(NodeTest, ManyKeysInOneCall) {
  grow(16);
  std::vector<StoreEntry> entries;
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) {
    keys.push_back("many." + std::to_string(i));
    entries.push_back({keys.back(), std::nullopt, "value" + std::to_string(i), in(100)});
  }
  auto ok = store(*nodes[4], entries);
  EXPECT_EQ(ok, std::vector<bool>(200, true));
  auto got = get(*nodes[9], keys);
  ASSERT_EQ(got.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(got[i].has_value()) << keys[i];
    EXPECT_EQ(got[i]->value, "value" + std::to_string(i));
  }
}

TEST_F(NodeTest, LargeValuesTravelAloneWhenTheyDoNotFitTogether) {
  DhtConfig config = test_config();
  config.protocol.max_datagram = 8000;
  config.storage.max_value_bytes = 4000;
  grow(6, config);
  std::vector<StoreEntry> entries;
  std::vector<std::string> keys;
  for (int i = 0; i < 6; ++i) {
    keys.push_back("big." + std::to_string(i));
    entries.push_back({keys.back(), std::nullopt, std::string(3000, 'a' + i), in(100)});
  }
  EXPECT_EQ(store(*nodes[0], entries), std::vector<bool>(6, true));
  DhtConfig client = config;
  client.protocol.client_mode = true;
  DhtNode& reader = add_node(client);
  ASSERT_EQ(bootstrap(reader, {nodes[0]->address()}), "");
  auto got = get(reader, keys);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(got[i].has_value()) << keys[i];
    EXPECT_EQ(got[i]->value, std::string(3000, 'a' + i));
  }
}

TEST_F(NodeTest, ClientModeNodeIsNotAddedToRoutingTables) {
  grow(4);
  DhtConfig config = test_config();
  config.protocol.client_mode = true;
  DhtNode& client = add_node(config);
  ASSERT_EQ(bootstrap(client, {nodes[0]->address()}), "");
  for (size_t i = 0; i + 1 < nodes.size(); ++i) {
    EXPECT_FALSE(nodes[i]->routing_table().contains(client.id()));
  }
  EXPECT_EQ(store(client, {{"c", std::nullopt, "v", in(100)}}), std::vector<bool>{true});
  EXPECT_EQ(client.storage().size(), 0u);
  EXPECT_TRUE(get(*nodes[2], {"c"})[0].has_value());
}

}  // namespace
}  // namespace hm::dht
