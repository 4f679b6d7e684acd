// The measurements end to end, with tiny parameters (no timing assertions).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "hm/base/error.h"
#include "hm/bench/chain.h"
#include "hm/bench/client.h"
#include "hm/bench/latency.h"
#include "hm/bench/local.h"
#include "hm/bench/server.h"
#include "hm/bench/throughput.h"

namespace hm::bench {
namespace {

ThroughputParams tiny(const std::string& cls, bool backprop) {
  ThroughputParams p;
  p.experts = 2;
  p.clients = 2;
  p.batches_per_client = 3;
  p.batch_size = 4;
  p.hidden_dim = 8;
  p.expert_cls = cls;
  p.max_batch_size = 64;
  p.backprop = backprop;
  return p;
}

TEST(InProcessServer, ListensAndTimesItsStartup) {
  moe::ExpertServerConfig config;
  config.uids = {"expert.0"};
  config.expert_cls = "nop";
  config.hidden_dim = 4;
  InProcessServer server(config);
  EXPECT_EQ(server.address().host, "127.0.0.1");
  EXPECT_NE(server.address().port, 0);
  // Both phases take real time, well under the test's own timeout.
  EXPECT_GT(server.experts_startup_s(), 0);
  EXPECT_LT(server.experts_startup_s(), 60);
  EXPECT_GT(server.networking_startup_s(), 0);
  EXPECT_LT(server.networking_startup_s(), 60);
  EXPECT_EQ(server.host().uids(), std::vector<std::string>{"expert.0"});
  server.stop();
  server.stop();
}

TEST(InProcessServer, BadConfigIsAUsageError) {
  moe::ExpertServerConfig config;
  config.uids = {"expert.0"};
  config.expert_cls = "nope";
  EXPECT_THROW(InProcessServer server(config), UsageError);
}

TEST(Client, RunsItsBatchesAndTimesEachCall) {
  moe::ExpertServerConfig config;
  config.uids = {"expert.0", "expert.1"};
  config.expert_cls = "ffn";
  config.hidden_dim = 8;
  InProcessServer server(config);
  ClientSpec spec;
  spec.server = server.address();
  spec.experts = 2;
  spec.batches = 5;
  spec.warmup = 1;
  spec.batch_size = 3;
  spec.hidden_dim = 8;
  spec.expert_cls = "ffn";
  int ready = 0, done = 0;
  auto r = run_client(spec, {[&] { ++ready; }, [&] { ++done; }});
  EXPECT_EQ(ready, 1);
  EXPECT_EQ(done, 5);
  EXPECT_EQ(r.samples, 15u);
  EXPECT_EQ(r.forward_us.size(), 5u);
  EXPECT_EQ(r.backward_us.size(), 5u);
  EXPECT_GE(r.end_s, r.start_s);
  // warmup + timed backward batches trained the experts
  uint64_t steps = 0;
  for (const auto& uid : config.uids) steps += server.host().describe(uid)->steps;
  EXPECT_EQ(steps, 6u);
}

TEST(Client, WrongShapeFailsWithTheServersReason) {
  moe::ExpertServerConfig config;
  config.uids = {"expert.0"};
  config.expert_cls = "nop";
  config.hidden_dim = 8;
  InProcessServer server(config);
  ClientSpec spec;
  spec.server = server.address();
  spec.hidden_dim = 5;  // the server expects 8
  spec.expert_cls = "nop";
  try {
    run_client(spec);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("forward on expert.0"), std::string::npos) << e.what();
  }
}

TEST(Client, ItsTimeoutIsTheDeadlineTheServerDropsLateCallsBy) {
  moe::ExpertServerConfig config;
  config.uids = {"expert.0"};
  config.expert_cls = "nop_delay";  // 500 ms per batch
  config.hidden_dim = 4;
  config.max_batch_size = 1;  // one call per batch: the second waits behind the first
  InProcessServer server(config);
  ClientSpec spec;
  spec.server = server.address();
  spec.warmup = 0;
  spec.hidden_dim = 4;
  spec.expert_cls = "nop_delay";
  spec.backprop = false;
  spec.timeout_s = 0.2;  // both clients give up long before the second batch starts
  std::vector<std::string> errors(2);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < 2; ++i) {
    clients.emplace_back([&, i] {
      ClientSpec mine = spec;
      mine.index = i;
      try {
        run_client(mine);
      } catch (const Error& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& client : clients) client.join();
  for (const auto& error : errors) {
    EXPECT_NE(error.find("no answer within 0.2 s"), std::string::npos) << error;
  }
  // The server learnt the deadline from the request: the call still queued
  // when it passed is dropped, not computed (bounded wait for the first batch).
  std::string report;
  for (int i = 0; i < 100 && report.find("dropped past their deadline") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (const auto& line : server.host().stats_report()) report += line + "\n";
  }
  EXPECT_NE(report.find("1 dropped past their deadline"), std::string::npos) << report;
}

TEST(Throughput, ThreadsWithVsLocal) {
  ThroughputRun run;
  run.params = tiny("nop", true);
  run.vs_local = true;
  run.progress = false;
  auto r = run_throughput(run);
  EXPECT_EQ(r.examples, 2u * 3u * 4u);
  EXPECT_EQ(r.forward_ms.count, 6u);
  EXPECT_EQ(r.backward_ms.count, 6u);
  EXPECT_GT(r.samples_per_s, 0);
  ASSERT_TRUE(r.local_samples_per_s.has_value());
  ASSERT_TRUE(r.ratio.has_value());
  EXPECT_DOUBLE_EQ(*r.ratio, r.samples_per_s / *r.local_samples_per_s);
  EXPECT_GT(r.cpu_s, 0);
  ASSERT_TRUE(r.local_cpu_s.has_value());
  ASSERT_TRUE(r.cpu_ratio.has_value());
  EXPECT_GT(*r.cpu_ratio, 0);
  EXPECT_FALSE(r.server_stats.empty());
}

TEST(Throughput, RoundsAlternateAndAddUp) {
  ThroughputRun run;
  run.params = tiny("ffn", true);
  run.vs_local = true;
  run.rounds = 2;
  run.progress = false;
  auto r = run_throughput(run);
  EXPECT_EQ(r.examples, 2u * 2u * 3u * 4u);
  EXPECT_EQ(r.forward_ms.count, 12u);
  ASSERT_TRUE(r.local_elapsed_s.has_value());
  EXPECT_GT(*r.local_elapsed_s, 0);
  run.rounds = 0;
  EXPECT_THROW(run_throughput(run), UsageError);
}

TEST(Throughput, ForwardOnlyAgainstAServerAddress) {
  moe::ExpertServerConfig config;
  config.uids = {"expert.0", "expert.1"};
  config.expert_cls = "ffn";
  config.hidden_dim = 8;
  InProcessServer server(config);
  ThroughputRun run;
  run.params = tiny("ffn", false);
  run.server = server.address().to_string();
  run.progress = false;
  auto r = run_throughput(run);
  EXPECT_EQ(r.examples, 24u);
  EXPECT_EQ(r.backward_ms.count, 0u);
  EXPECT_EQ(r.startup_s, 0);
  EXPECT_FALSE(r.ratio.has_value());
  EXPECT_FALSE(r.cpu_ratio.has_value());
}

TEST(Local, DoesEveryBatch) {
  auto p = tiny("ffn", true);
  int batches = 0;
  auto r = run_local(p, 1, 0, [&] { ++batches; });
  EXPECT_EQ(batches, 6);
  EXPECT_EQ(r.samples, 24u);
  EXPECT_GT(r.elapsed_s, 0);
}

// 25 timed round trips of `call` to an in-process nop expert of hidden 4.
LatencyRun small_latency_run(const char* call) {
  LatencyRun run;
  run.calls = 25;
  run.warmup = 2;
  run.hidden_dim = 4;
  run.call = call;
  run.progress = false;
  return run;
}

TEST(Latency, CountsEveryCall) {
  for (const char* call : {"forward", "backward", "info"}) {
    auto r = run_latency(small_latency_run(call));
    EXPECT_EQ(r.us.count, 25u) << call;
    EXPECT_LE(r.us.p50, r.us.p99) << call;
    EXPECT_LE(r.us.p99, r.us.max) << call;
  }
  LatencyRun bad;
  bad.call = "ping";
  EXPECT_THROW(run_latency(bad), UsageError);
}

TEST(Latency, VsTcpTimesAsManyPlainRoundTrips) {
  auto run = small_latency_run("forward");
  EXPECT_FALSE(run_latency(run).tcp_us.has_value());
  run.vs_tcp = true;
  const auto r = run_latency(run);
  ASSERT_TRUE(r.tcp_us.has_value());
  EXPECT_EQ(r.tcp_us->count, 25u);
  EXPECT_GT(r.tcp_us->p50, 0);
  run.server = "127.0.0.1:1";  // loopback TCP says nothing about a remote server
  EXPECT_THROW(run_latency(run), UsageError);
}

TEST(Chain, OneRowPerPing) {
  ChainRun run;
  run.blocks = 3;
  run.hidden_dim = 8;
  run.batch_size = 2;
  run.jobs = 3;
  run.batches = 2;
  run.latency_batches = 2;
  run.pings = {0, 0.002};
  run.progress = false;
  auto r = run_chain(run);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].ping_s, 0);
  EXPECT_EQ(r.rows[1].ping_s, 0.002);
  for (const auto& row : r.rows) {
    EXPECT_EQ(row.latency_s.count, 2u);
    EXPECT_GT(row.sequential_samples_per_s, 0);
    EXPECT_GT(row.parallel_samples_per_s, 0);
  }
}

TEST(Chain, BackpropAndTransformerBlocks) {
  ChainRun run;
  run.blocks = 2;
  run.expert_cls = "transformer";
  run.hidden_dim = 16;
  run.batch_size = 1;
  run.jobs = 2;
  run.batches = 1;
  run.latency_batches = 1;
  run.pings = {0};
  run.backprop = true;
  run.progress = false;
  auto r = run_chain(run);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0].latency_s.count, 1u);
}

TEST(Chain, BadParametersAreUsageErrors) {
  ChainRun run;
  run.pings = {};
  EXPECT_THROW(run_chain(run), UsageError);
  run.pings = {-1};
  EXPECT_THROW(run_chain(run), UsageError);
  run.pings = {0};
  run.blocks = 0;
  EXPECT_THROW(run_chain(run), UsageError);
}

}  // namespace
}  // namespace hm::bench
