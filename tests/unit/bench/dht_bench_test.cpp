#include "hm/bench/dht_bench.h"

#include <gtest/gtest.h>

#include <set>

#include "hm/base/error.h"
#include "hm/base/expert_uid.h"

namespace hm::bench {
namespace {

TEST(RandomUids, DistinctValidAndSeeded) {
  std::mt19937_64 a(5), b(5), c(6);
  auto uids = random_expert_uids(2000, a);
  ASSERT_EQ(uids.size(), 2000u);
  EXPECT_EQ(std::set<std::string>(uids.begin(), uids.end()).size(), 2000u);
  for (const auto& uid : uids) {
    EXPECT_TRUE(is_valid_uid(uid)) << uid;
    EXPECT_EQ(uid.rfind("expert.", 0), 0u);
  }
  EXPECT_EQ(random_expert_uids(2000, b), uids);
  EXPECT_NE(random_expert_uids(2000, c), uids);
}

TEST(DhtBench, SmallSwarmStoresAndReadsEverything) {
  DhtBenchRun run;
  run.peers = 6;
  run.experts = 40;
  run.batch = 16;
  run.progress = false;
  run.timeout_s = 60;
  auto report = run_dht_bench(run);
  EXPECT_EQ(report.peers, 6u);
  EXPECT_EQ(report.get_total, 40u);
  EXPECT_EQ(report.get_ok, 40u);
  EXPECT_GE(report.store_total, 80u);  // a uid plus two prefix entries, minus shared ones
  EXPECT_EQ(report.store_ok, report.store_total);
  EXPECT_DOUBLE_EQ(report.store_success, 1.0);
  EXPECT_DOUBLE_EQ(report.get_success, 1.0);
  EXPECT_GT(report.peak_rss_mb, 0);
}

TEST(DhtBench, BadParametersAreUsageErrors) {
  DhtBenchRun run;
  run.peers = 1;
  EXPECT_THROW(run_dht_bench(run), UsageError);
  run.peers = 4;
  run.failure_rate = 1.5;
  EXPECT_THROW(run_dht_bench(run), UsageError);
}

}  // namespace
}  // namespace hm::bench
