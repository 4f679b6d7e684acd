#include "hm/bench/report.h"

#include <gtest/gtest.h>

namespace hm::bench {
namespace {

Summary summary(double base) {
  Summary s;
  s.count = 10;
  s.mean = base;
  s.stddev = base / 10;
  s.min = base / 2;
  s.p50 = base;
  s.p90 = base * 1.5;
  s.p99 = base * 2;
  s.max = base * 3;
  return s;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Report, SummaryAsJson) {
  auto json = to_json(summary(2));
  EXPECT_EQ(json["count"], 10);
  EXPECT_EQ(json["p50"], 2.0);
  EXPECT_EQ(json["max"], 6.0);
  EXPECT_EQ(json.size(), 8u);
}

TEST(Report, ThroughputInHivemindsWords) {
  ThroughputRun run;
  run.params.experts = 4;
  run.params.clients = 2;
  run.params.backprop = false;
  ThroughputReport r;
  r.examples = 1000;
  r.elapsed_s = 2;
  r.samples_per_s = 500;
  r.forward_ms = summary(1);
  auto text = to_text(run, r);
  EXPECT_EQ(text.rfind("Benchmark finished, status: Success\n", 0), 0u);
  EXPECT_TRUE(contains(text, "num_experts=4, max_batch_size=0, expert_cls=ffn"));
  EXPECT_TRUE(contains(text, "num_clients=2 (threads)"));
  EXPECT_TRUE(contains(text, "\tServer startup took"));  // in-process
  EXPECT_TRUE(contains(text, "\tThroughput for forward passes: 500.000 samples / s.\n"));
  EXPECT_TRUE(contains(text, "\tForward latency (10 calls): p50 1.000 ms"));
  EXPECT_FALSE(contains(text, "Backward latency"));
  EXPECT_FALSE(contains(text, "Local (no network)"));

  run.server = "127.0.0.1:7000";
  run.client_argv = {"hm-bench", "_client"};
  r.local_samples_per_s = 1000;
  r.local_elapsed_s = 1;
  r.ratio = 0.5;
  r.local_cpu_s = 1;
  r.cpu_ratio = 0.25;
  text = to_text(run, r);
  EXPECT_TRUE(contains(text, ", server=127.0.0.1:7000\n"));
  EXPECT_TRUE(contains(text, "(processes)"));
  EXPECT_FALSE(contains(text, "Server startup"));
  EXPECT_TRUE(contains(text, "ratio 0.500\n"));

  auto json = to_json(run, r);
  EXPECT_EQ(json["params"]["server"], "127.0.0.1:7000");
  EXPECT_EQ(json["params"]["client_processes"], true);
  EXPECT_EQ(json["ratio"], 0.5);
  EXPECT_EQ(json["forward_ms"]["p50"], 1.0);
  EXPECT_TRUE(to_json(ThroughputRun{}, ThroughputReport{})["ratio"].is_null());
}

TEST(Report, LatencyWithAndWithoutTheTcpFloor) {
  LatencyRun run;
  LatencyReport r;
  r.us = summary(20);
  r.calls_per_s = 50000;
  auto text = to_text(run, r);
  EXPECT_EQ(text.rfind("10 round trips of forward nop (batch 1, hidden 1024)\n", 0), 0u);
  EXPECT_FALSE(contains(text, "plain TCP"));
  EXPECT_TRUE(to_json(run, r)["tcp_ratio"].is_null());
  r.tcp_us = summary(5);
  EXPECT_TRUE(contains(to_text(run, r), "the call's p50 is 4.00x\n"));
  EXPECT_EQ(to_json(run, r)["tcp_ratio"], 4.0);
  EXPECT_EQ(to_json(run, r)["p99_us"], 40.0);
}

TEST(Report, DhtAndChain) {
  DhtBenchRun dht;
  DhtBenchReport d;
  d.peers = 32;
  d.store_ok = d.store_total = 8;
  d.store_success = 1;
  auto text = to_text(dht, d);
  EXPECT_EQ(text.rfind("32 peers joined in", 0), 0u);
  EXPECT_TRUE(contains(text, "Store success rate: 100.0% (8 / 8)\n"));
  EXPECT_FALSE(contains(text, "Stopped"));
  EXPECT_EQ(to_json(dht, d)["stores_ok"], 8);

  ChainRun chain;
  ChainReport c;
  c.rows.push_back({0.05, summary(0.1), 100, 400, 4});
  text = to_text(chain, c);
  EXPECT_TRUE(contains(text, "ping_s"));
  EXPECT_TRUE(contains(text, "   0.050"));
  auto json = to_json(chain, c);
  ASSERT_EQ(json["rows"].size(), 1u);
  EXPECT_EQ(json["rows"][0]["speedup"], 4.0);
}

TEST(Report, RenderAddsTheProcessSettingsToJsonOnly) {
  LatencyRun run;
  LatencyReport r;
  EXPECT_EQ(render(run, r, OutputFlags{}), to_text(run, r));
  auto line = render(run, r, {.json = true, .busy_idle = true, .busy_poll_us = 50});
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line
  auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["busy_idle"], true);
  EXPECT_EQ(json["busy_poll_us"], 50);
  EXPECT_EQ(json["call"], "forward");
}

TEST(Report, MeasureAndPrintSetsProgressAndReturnsZero) {
  LatencyRun run;
  bool progress = true;
  auto measure = [&](const LatencyRun& r) {
    progress = r.progress;
    return LatencyReport{};
  };
  testing::internal::CaptureStdout();
  EXPECT_EQ(measure_and_print(run, measure, {.json = true, .no_progress = true}), 0);
  auto out = testing::internal::GetCapturedStdout();
  EXPECT_FALSE(progress);
  EXPECT_EQ(nlohmann::json::parse(out)["calls"], 0);
}

}  // namespace
}  // namespace hm::bench
