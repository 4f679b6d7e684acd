#include <gtest/gtest.h>

#include "hm/dht/protocol.h"

namespace hm::dht {
namespace {

TEST(ProtocolCounters, PlusEqualsAddsEveryCount) {
  ProtocolCounters a{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
  ProtocolCounters b{100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300};
  a += b;
  const ProtocolCounters want{101, 202, 303, 404, 505, 606, 707, 808, 909, 1010, 1111, 1212, 1313};
  EXPECT_EQ(a.datagrams, want.datagrams);
  EXPECT_EQ(a.requests_served, want.requests_served);
  EXPECT_EQ(a.responses, want.responses);
  EXPECT_EQ(a.requests_sent, want.requests_sent);
  EXPECT_EQ(a.resends, want.resends);
  EXPECT_EQ(a.timeouts, want.timeouts);
  EXPECT_EQ(a.oversized, want.oversized);
  EXPECT_EQ(a.truncated, want.truncated);
  EXPECT_EQ(a.malformed, want.malformed);
  EXPECT_EQ(a.unsolicited, want.unsolicited);
  EXPECT_EQ(a.wrong_address, want.wrong_address);
  EXPECT_EQ(a.rate_limited, want.rate_limited);
  EXPECT_EQ(a.not_sent, want.not_sent);
  EXPECT_EQ(a.dropped(), want.dropped());
}

}  // namespace
}  // namespace hm::dht
