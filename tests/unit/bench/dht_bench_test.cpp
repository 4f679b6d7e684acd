#include "hm/bench/dht_bench.h"

#include <gtest/gtest.h>

#include <set>

#include "hm/base/error.h"
#include "hm/base/expert_uid.h"

namespace hm::bench {
namespace {

std::set<std::string> keys_of(const std::vector<dht::StoreEntry>& entries) {
  std::set<std::string> keys;
  for (const auto& e : entries) keys.insert(e.key + "[" + e.subkey.value_or("") + "]");
  return keys;
}

TEST(Declarations, HivemindsKeyCounts) {
  // hivemind's test_dht_single_node pins these counts.
  std::vector<std::string> two = {"ffn.1", "ffn.2"};
  EXPECT_EQ(expert_declarations(two, "1.2.3.4:5", 100).size(), 4u);
  std::vector<std::string> three = {"e.1.2.3", "e.1.2.5", "e.2.0"};
  auto entries = expert_declarations(three, "1.2.3.4:5", 100);
  EXPECT_EQ(entries.size(), 7u);
  EXPECT_EQ(keys_of(entries),
            (std::set<std::string>{"e.1.2.3[]", "e.1.2.[3]", "e.1.[2]", "e.1.2.5[]", "e.1.2.[5]",
                                   "e.2.0[]", "e.2.[0]"}));
}

TEST(Declarations, ValuesAndExpiration) {
  std::vector<std::string> uids = {"ffn.10.20", "ffn.5"};
  auto entries = expert_declarations(uids, "10.0.0.1:7000", 1234.5);
  ASSERT_EQ(entries.size(), 4u);
  for (const auto& e : entries) EXPECT_EQ(e.expiration, 1234.5);
  EXPECT_EQ(entries[0].key, "ffn.10.20");
  EXPECT_FALSE(entries[0].subkey.has_value());
  EXPECT_EQ(entries[0].value, "10.0.0.1:7000");
  EXPECT_EQ(entries[1].key, "ffn.10.");
  EXPECT_EQ(entries[1].subkey, "20");
  EXPECT_EQ(entries[1].value, "ffn.10.20 10.0.0.1:7000");
  EXPECT_EQ(entries[3].key, "ffn.5.");
  EXPECT_EQ(entries[3].subkey, "-1");
  EXPECT_EQ(entries[3].value, "ffn.5 10.0.0.1:7000");
}

TEST(Declarations, InvalidUidIsRefused) {
  std::vector<std::string> bad = {"ffn.01"};
  EXPECT_THROW(expert_declarations(bad, "a:1", 1), Error);
}

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
