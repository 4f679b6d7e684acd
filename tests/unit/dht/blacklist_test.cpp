#include "hm/dht/blacklist.h"

#include <gtest/gtest.h>

namespace hm::dht {
namespace {

const io::Endpoint kPeer = io::Endpoint::parse("127.0.0.1:7000", "test");
const io::Endpoint kOther = io::Endpoint::parse("127.0.0.1:7001", "test");

TEST(Blacklist, BansGrowExponentiallyAndAnAnswerClearsThem) {
  Blacklist blacklist(5, 2);
  EXPECT_FALSE(blacklist.banned(kPeer, 0));
  blacklist.register_failure(kPeer, 0);
  EXPECT_TRUE(blacklist.banned(kPeer, 4.9));
  EXPECT_FALSE(blacklist.banned(kPeer, 5.1));
  EXPECT_FALSE(blacklist.banned(kOther, 1));
  blacklist.register_failure(kPeer, 3);  // still banned: not extended
  EXPECT_FALSE(blacklist.banned(kPeer, 5.1));
  blacklist.register_failure(kPeer, 10);  // second ban: 10 s
  EXPECT_DOUBLE_EQ(blacklist.remaining(kPeer, 10), 10);
  blacklist.register_failure(kPeer, 21);  // third: 20 s
  EXPECT_DOUBLE_EQ(blacklist.remaining(kPeer, 21), 20);
  EXPECT_EQ(blacklist.banned_count(22), 1u);
  blacklist.register_success(kPeer);
  EXPECT_FALSE(blacklist.banned(kPeer, 22));
  blacklist.register_failure(kPeer, 30);  // back to the first ban
  EXPECT_DOUBLE_EQ(blacklist.remaining(kPeer, 30), 5);
}

TEST(Blacklist, ZeroBaseTimeDisablesIt) {
  Blacklist blacklist(0, 2);
  blacklist.register_failure(kPeer, 0);
  EXPECT_FALSE(blacklist.banned(kPeer, 0));
}

TEST(Blacklist, IsBounded) {
  Blacklist blacklist(5, 2, 10);
  for (uint16_t port = 1; port <= 100; ++port) {
    blacklist.register_failure(kPeer.with_port(port), 0);
  }
  EXPECT_EQ(blacklist.banned_count(1), 10u);
  // Once their bans expired, room is made for new peers.
  blacklist.register_failure(kOther.with_port(5000), 100);
  EXPECT_TRUE(blacklist.banned(kOther.with_port(5000), 101));
}

}  // namespace
}  // namespace hm::dht
