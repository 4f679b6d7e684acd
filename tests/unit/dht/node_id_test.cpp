#include "hm/dht/node_id.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace hm::dht {
namespace {

TEST(NodeId, KeyIdIsSha1OfTheKeyBytes) {
  // FIPS 180 test vector.
  EXPECT_EQ(NodeId::from_key("abc").hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(NodeId::from_key("").hex(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(NodeId::from_key("ffn.1.2"), NodeId::from_key("ffn.1.2"));
  EXPECT_NE(NodeId::from_key("ffn.1.2"), NodeId::from_key("ffn.1.3"));
}

TEST(NodeId, BytesAndHexRoundTrip) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100; ++i) {
    NodeId id = NodeId::random(rng);
    auto back = NodeId::from_bytes(id.bytes());
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, id);
    auto parsed = NodeId::from_hex(id.hex());
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, id);
  }
  uint8_t short_bytes[19] = {};
  EXPECT_FALSE(NodeId::from_bytes(short_bytes).has_value());
  EXPECT_FALSE(NodeId::from_hex("xyz").has_value());
  EXPECT_FALSE(NodeId::from_hex(std::string(40, 'g')).has_value());
}

TEST(NodeId, RandomIdsDiffer) {
  std::set<NodeId> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(NodeId::random());
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(NodeId, XorDistanceIsAMetric) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200; ++i) {
    NodeId a = NodeId::random(rng), b = NodeId::random(rng), c = NodeId::random(rng);
    EXPECT_EQ(a.distance(a), NodeId());
    EXPECT_EQ(a.distance(b), b.distance(a));
    EXPECT_EQ(a.distance(b).distance(b.distance(c)), a.distance(c));  // (a^b)^(b^c) = a^c
    EXPECT_EQ(c.closer(a, b), c.distance(a) < c.distance(b));
    EXPECT_FALSE(c.closer(a, a));
  }
}

TEST(NodeId, BitsAndCommonPrefix) {
  NodeId zero;
  NodeId id;
  id.set_bit(0, true);
  EXPECT_TRUE(id.bit(0));
  EXPECT_EQ(id.bytes()[0], 0x80);
  EXPECT_EQ(zero.common_prefix_length(id), 0);
  EXPECT_EQ(zero.common_prefix_length(zero), 160);
  NodeId last;
  last.set_bit(159, true);
  EXPECT_EQ(last.bytes()[19], 0x01);
  EXPECT_EQ(zero.common_prefix_length(last), 159);
  NodeId mid;
  mid.set_bit(37, true);
  EXPECT_EQ(zero.common_prefix_length(mid), 37);
  mid.set_bit(37, false);
  EXPECT_EQ(mid, zero);
}

}  // namespace
}  // namespace hm::dht
