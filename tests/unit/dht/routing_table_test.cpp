#include "hm/dht/routing_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace hm::dht {
namespace {

io::Endpoint fake_address(uint32_t n) {
  uint8_t ip[4] = {127, 0, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8)};
  return io::Endpoint::from_ip_bytes(ip, static_cast<uint16_t>(n));
}

std::vector<NodeId> all_peers(const RoutingTable& table) {
  std::vector<NodeId> ids;
  table.for_each([&](const PeerInfo& p) { ids.push_back(p.id); });
  return ids;
}

TEST(RoutingTable, HundredNodesFitWithoutReplacements) {
  std::mt19937_64 rng(1);
  RoutingTable table(NodeId::random(rng));
  std::vector<PeerInfo> added;
  for (uint32_t i = 0; i < 100; ++i) {
    PeerInfo peer{NodeId::random(rng), fake_address(i)};
    auto outcome = table.add_or_update(peer, 0);
    EXPECT_EQ(outcome.added, RoutingTable::Added::kAdded);
    added.push_back(peer);
  }
  EXPECT_GE(table.bucket_count(), 3u);
  EXPECT_LE(table.bucket_count(), 10u);
  EXPECT_EQ(table.replacement_count(), 0u);
  EXPECT_EQ(table.size(), 100u);
  for (const auto& peer : added) {
    auto found = table.find(peer.id);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(*found, peer.address);
  }
  EXPECT_FALSE(table.find(NodeId::random(rng)).has_value());
}

TEST(RoutingTable, OwnIdIsIgnoredAndUpdatesMoveToTheEnd) {
  NodeId self = NodeId::from_key("self");
  RoutingTable table(self);
  EXPECT_EQ(table.add_or_update({self, fake_address(1)}, 0).added, RoutingTable::Added::kSelf);
  EXPECT_EQ(table.size(), 0u);
  NodeId peer = NodeId::from_key("peer");
  EXPECT_EQ(table.add_or_update({peer, fake_address(2)}, 0).added, RoutingTable::Added::kAdded);
  EXPECT_EQ(table.add_or_update({peer, fake_address(3)}, 1).added, RoutingTable::Added::kUpdated);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(*table.find(peer), fake_address(3));
  EXPECT_TRUE(table.remove(peer));
  EXPECT_FALSE(table.remove(peer));
  EXPECT_EQ(table.size(), 0u);
}

struct BucketCase {
  size_t bucket_size;
  int modulo;
  size_t min_buckets, max_buckets;
};

class RoutingTableParameters : public ::testing::TestWithParam<BucketCase> {};

// hivemind's test_routing_table_parameters: 10k random peers.
TEST_P(RoutingTableParameters, BucketCountsMatchHivemindsRanges) {
  const BucketCase c = GetParam();
  std::mt19937_64 rng(c.bucket_size * 100 + static_cast<size_t>(c.modulo));
  RoutingTable table(NodeId::random(rng), c.bucket_size, c.modulo);
  for (uint32_t i = 0; i < 10000; ++i) table.add_or_update({NodeId::random(rng), fake_address(i)}, 0);
  EXPECT_GE(table.bucket_count(), c.min_buckets);
  EXPECT_LE(table.bucket_count(), c.max_buckets);
}

INSTANTIATE_TEST_SUITE_P(Hivemind, RoutingTableParameters,
                         ::testing::Values(BucketCase{20, 5, 45, 65}, BucketCase{50, 5, 35, 45},
                                           BucketCase{20, 10, 650, 800},
                                           BucketCase{20, 1, 7, 15}));

// hivemind's test_routing_table_search: k-nearest equals brute force.
TEST(RoutingTable, NearestEqualsBruteForceOnTenThousandIds) {
  std::mt19937_64 rng(42);
  RoutingTable table(NodeId::random(rng), 20, 5);
  size_t added = 0;
  for (uint32_t i = 0; i < 10000; ++i) {
    auto outcome = table.add_or_update({NodeId::random(rng), fake_address(i)}, 0);
    added += outcome.added == RoutingTable::Added::kAdded;
  }
  std::vector<NodeId> active = all_peers(table);
  EXPECT_GE(active.size(), 800u);
  EXPECT_LE(active.size(), 1100u);
  EXPECT_EQ(active.size(), added);
  EXPECT_LE(added + table.replacement_count(), 10000u);

  std::uniform_int_distribution<size_t> pick_k(1, 100);
  for (int round = 0; round < 2000; ++round) {
    size_t k = pick_k(rng);
    bool from_table = round % 2 == 1;
    NodeId query = from_table ? active[rng() % active.size()] : NodeId::random(rng);
    const NodeId* exclude = (from_table || round % 4 == 0) ? &query : nullptr;
    std::vector<PeerInfo> ours = table.nearest(query, k, exclude);

    std::vector<NodeId> reference;
    for (const auto& id : active) {
      if (exclude == nullptr || id != *exclude) reference.push_back(id);
    }
    size_t n = std::min(k, reference.size());
    std::partial_sort(reference.begin(), reference.begin() + static_cast<std::ptrdiff_t>(n),
                      reference.end(),
                      [&](const NodeId& a, const NodeId& b) { return query.closer(a, b); });
    reference.resize(n);
    ASSERT_EQ(ours.size(), reference.size()) << "k=" << k;
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(ours[i].id, reference[i]) << "round " << round << " rank " << i;
      ASSERT_EQ(ours[i].address, *table.find(ours[i].id));
    }
  }
}

TEST(RoutingTable, FullBucketAsksToPingItsOldestPeerAndPromotesAReplacement) {
  // With depth modulo 1 the root splits only around our own id: fill the
  // half that does not hold it (bit 0 differs from ours).
  NodeId self;  // all zeros: the far half starts with bit 1
  RoutingTable table(self, 4, 1);
  std::mt19937_64 rng(3);
  auto far_id = [&] {
    NodeId id = NodeId::random(rng);
    id.set_bit(0, true);
    return id;
  };
  std::vector<PeerInfo> members;
  for (uint32_t i = 0; i < 4; ++i) {
    members.push_back({far_id(), fake_address(i)});
    EXPECT_EQ(table.add_or_update(members.back(), i).added, RoutingTable::Added::kAdded);
  }
  PeerInfo newcomer{far_id(), fake_address(10)};
  auto outcome = table.add_or_update(newcomer, 5);
  EXPECT_EQ(outcome.added, RoutingTable::Added::kReplacement);
  ASSERT_TRUE(outcome.ping.has_value());
  EXPECT_EQ(outcome.ping->id, members[0].id);  // least recently seen
  EXPECT_EQ(table.replacement_count(), 1u);
  EXPECT_FALSE(table.contains(newcomer.id));

  // A second newcomer: the oldest is already being pinged, so the next one.
  PeerInfo second{far_id(), fake_address(11)};
  outcome = table.add_or_update(second, 6);
  ASSERT_TRUE(outcome.ping.has_value());
  EXPECT_EQ(outcome.ping->id, members[1].id);

  // The first pinged peer answered: it stays, and becomes the most recent.
  EXPECT_EQ(table.add_or_update(members[0], 7).added, RoutingTable::Added::kUpdated);
  // The second did not: removed, and the most recent replacement takes its place.
  EXPECT_TRUE(table.remove(members[1].id));
  EXPECT_FALSE(table.contains(members[1].id));
  EXPECT_TRUE(table.contains(second.id));
  EXPECT_FALSE(table.contains(newcomer.id));
  EXPECT_EQ(table.replacement_count(), 1u);
  EXPECT_EQ(table.size(), 4u);
}

TEST(RoutingTable, ReplacementCacheIsBounded) {
  NodeId self;
  RoutingTable table(self, 2, 1);
  std::mt19937_64 rng(5);
  for (uint32_t i = 0; i < 50; ++i) {
    NodeId id = NodeId::random(rng);
    id.set_bit(0, true);
    table.add_or_update({id, fake_address(i)}, 0);
  }
  EXPECT_LE(table.replacement_count(), 2u * table.bucket_count());
}

TEST(RoutingTable, StaleBucketsGiveIdsInsideThem) {
  std::mt19937_64 rng(9);
  RoutingTable table(NodeId::random(rng));
  for (uint32_t i = 0; i < 500; ++i) table.add_or_update({NodeId::random(rng), fake_address(i)}, 10);
  auto stale = table.take_stale(20, 30, rng);
  EXPECT_EQ(stale.size(), table.bucket_count());
  std::set<NodeId> distinct(stale.begin(), stale.end());
  EXPECT_EQ(distinct.size(), stale.size());
  EXPECT_TRUE(table.take_stale(20, 30, rng).empty());  // refreshed now
  EXPECT_EQ(table.take_stale(31, 40, rng).size(), table.bucket_count());
}

}  // namespace
}  // namespace hm::dht
