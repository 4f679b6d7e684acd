// Measurements for the closing note, not a check (disabled by
// default). Run with:
//   hm_dht_tests --gtest_also_run_disabled_tests --gtest_filter='*Bench*'
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "node_group_fixture.h"

namespace hm::dht {
namespace {

size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class Bench : public testing::NodeGroupTest {};

TEST_F(Bench, DISABLED_Nodes1024Keys16384) {
  const size_t kNodes = 1024, kKeys = 16384;
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  ASSERT_GE(limit.rlim_cur, kNodes + 64) << "raise ulimit -n";

  size_t rss_before = rss_bytes();
  auto start = std::chrono::steady_clock::now();
  DhtConfig config;  // the defaults (timeouts included), on loopback
  config.listen = io::Endpoint::parse("127.0.0.1:0", "bench");
  if (const char* chunk = std::getenv("HM_BENCH_CHUNK")) config.chunk_size = std::stoul(chunk);
  grow(kNodes, config);
  double join_s = seconds_since(start);
  size_t rss_joined = rss_bytes();
  size_t peers = 0;
  for (auto& node : nodes) peers += node->routing_table().size();

  std::vector<StoreEntry> entries;
  std::vector<std::string> keys;
  double expiration = system_dht_time() + 3600;
  for (size_t i = 0; i < kKeys; ++i) {
    keys.push_back("bench.key." + std::to_string(i));
    entries.push_back({keys.back(), std::nullopt, "value-" + std::to_string(i), expiration});
  }
  start = std::chrono::steady_clock::now();
  double cpu = cpu_seconds();
  auto ok = store(*nodes[0], entries);
  double store_s = seconds_since(start);
  double store_cpu = cpu_seconds() - cpu;
  size_t stored_ok = std::count(ok.begin(), ok.end(), true);
  size_t rss_stored = rss_bytes();

  // A reader with an empty cache, far from the storer in the join order.
  DhtConfig client = config;
  client.protocol.client_mode = true;
  DhtNode& reader = add_node(client);
  ASSERT_EQ(bootstrap(reader, {nodes[kNodes / 2]->address()}), "");
  start = std::chrono::steady_clock::now();
  cpu = cpu_seconds();
  auto got = get(reader, keys);
  double get_s = seconds_since(start);
  double get_cpu = cpu_seconds() - cpu;
  size_t found = 0;
  for (size_t i = 0; i < got.size(); ++i) found += got[i] && got[i]->value == entries[i].value;

  // One key at a time, from a node that has not read them.
  DhtNode& single = *nodes[kNodes - 1];
  start = std::chrono::steady_clock::now();
  size_t single_found = 0;
  const size_t kSingle = 200;
  for (size_t i = 0; i < kSingle; ++i) {
    auto one = get(single, {keys[(i * 7919) % kKeys]});
    single_found += one[0].has_value();
  }
  double single_ms = seconds_since(start) * 1000 / kSingle;

  ProtocolCounters sum;
  for (auto& node : nodes) sum += node->stats().protocol;
  const uint64_t sent = sum.requests_sent, timeouts = sum.timeouts, dropped = sum.dropped();
  std::printf("rate_limited %lu unsolicited %lu malformed %lu wrong_address %lu resends %lu not_sent %lu\n",
              sum.rate_limited, sum.unsolicited, sum.malformed, sum.wrong_address, sum.resends,
              sum.not_sent);
  std::printf(
      "nodes %zu: joined in %.2f s, routing table %.1f peers/node\n"
      "memory: %.1f KiB/node after joining, %.1f KiB/node with %zu keys x 5 replicas stored\n"
      "store %zu keys in one call from one node: %.2f s, %.2f s CPU (%zu accepted)\n"
      "get %zu keys in one call from a fresh client: %.2f s, %.2f s CPU (%zu found)\n"
      "get one key at a time: %.2f ms each (%zu of %zu found)\n"
      "requests sent %llu, timeouts %llu, datagrams dropped %llu\n",
      kNodes, join_s, static_cast<double>(peers) / kNodes,
      static_cast<double>(rss_joined - rss_before) / 1024 / kNodes,
      static_cast<double>(rss_stored - rss_before) / 1024 / kNodes, kKeys, kKeys, store_s,
      store_cpu, stored_ok, kKeys, get_s, get_cpu, found, single_ms, single_found, kSingle,
      static_cast<unsigned long long>(sent), static_cast<unsigned long long>(timeouts),
      static_cast<unsigned long long>(dropped));
  EXPECT_EQ(stored_ok, kKeys);
  EXPECT_EQ(found, kKeys);
}

}  // namespace
}  // namespace hm::dht
