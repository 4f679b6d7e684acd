#include "hm/bench/tcp_floor.h"

#include <gtest/gtest.h>

#include "hm/base/error.h"

namespace hm::bench {
namespace {

TEST(TcpFloor, TimesEveryRoundTripAfterTheWarmup) {
  TcpFloorRun run;
  run.calls = 200;
  run.warmup = 10;
  const auto us = run_tcp_round_trips(run);
  EXPECT_EQ(us.count, 200u);
  EXPECT_GT(us.min, 0);
  EXPECT_LE(us.min, us.p50);
  EXPECT_LE(us.p50, us.p99);
  EXPECT_LE(us.p99, us.max);
}

// A message larger than the socket buffers arrives in pieces: every byte
// still goes both ways before the next round trip.
TEST(TcpFloor, EchoesMessagesLargerThanOneRead) {
  TcpFloorRun run;
  run.calls = 4;
  run.warmup = 1;
  run.message_bytes = 8u << 20;
  EXPECT_EQ(run_tcp_round_trips(run).count, 4u);
}

TEST(TcpFloor, RefusesEmptyMessages) {
  TcpFloorRun run;
  run.message_bytes = 0;
  EXPECT_THROW(run_tcp_round_trips(run), Error);
}

}  // namespace
}  // namespace hm::bench
