#include "hm/moe/expert_server_host.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <atomic>
#include <random>
#include <thread>

#include "hm/base/error.h"
#include "hm/moe/expert_backend.h"
#include "hm/moe/expert_layers.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_client.h"
#include "hm/torch/torch_bridge.h"
#include "../rpc/test_servers.h"
#include "torch_test_util.h"

namespace hm::moe {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kHidden = 8;

ExpertServerConfig grid_config(const std::string& cls = "ffn") {
  ExpertServerConfig config;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) config.uids.push_back(fmt::format("ffn.{}.{}", i, j));
  }
  std::shuffle(config.uids.begin(), config.uids.end(), std::mt19937(1));
  config.expert_cls = cls;
  config.hidden_dim = kHidden;
  config.optimizer = "sgd";
  config.seed = 99;
  return config;
}

HostTensor floats(std::vector<int64_t> shape, DType dtype = DType::Float32) {
  return from_torch(torch::randn(shape).to(to_torch(dtype)));
}

// The error message of `submit`, or "" when it did not throw.
template <typename Submit>
std::string error_of(Submit submit) {
  try {
    submit();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

class ExpertServerHostTest : public ::testing::Test {
 protected:
  ExpertServerHost host_{grid_config()};

  std::string forward_error(std::string_view uid, std::vector<HostTensor> inputs) {
    return error_of([&] {
      host_.submit_forward(uid, std::move(inputs), [](TaskOutcome) { ADD_FAILURE() << "ran"; });
    });
  }
  std::string backward_error(std::string_view uid, std::vector<HostTensor> inputs) {
    return error_of([&] {
      host_.submit_backward(uid, std::move(inputs), [](TaskOutcome) { ADD_FAILURE() << "ran"; });
    });
  }
};

TEST_F(ExpertServerHostTest, ListsAndDescribesItsExperts) {
  const auto uids = host_.uids();
  ASSERT_EQ(uids.size(), 16u);
  EXPECT_TRUE(std::is_sorted(uids.begin(), uids.end()));
  EXPECT_EQ(uids.front(), "ffn.0.0");
  const auto description = host_.describe("ffn.2.3");
  ASSERT_TRUE(description.has_value());
  EXPECT_EQ(description->uid, "ffn.2.3");
  EXPECT_EQ(description->expert_cls, "ffn");
  EXPECT_EQ(description->inputs, (std::vector<TensorSpec>{{DType::Float32, {-1, kHidden}}}));
  EXPECT_EQ(description->outputs, description->inputs);
  EXPECT_EQ(description->max_batch_size, 4096u);
  EXPECT_FALSE(host_.describe("ffn.9.9").has_value());
  EXPECT_NE(host_.backend("ffn.0.0"), nullptr);
  EXPECT_EQ(host_.backend("nope"), nullptr);
}

TEST_F(ExpertServerHostTest, RefusesBadRequestsWithClearErrors) {
  const auto ok = floats({4, kHidden});
  EXPECT_EQ(forward_error("x.9", {ok}),
            "unknown expert 'x.9' (this server hosts 16 experts, e.g. ffn.0.0)");
  EXPECT_EQ(forward_error("ffn.0.1", {ok, ok}), "forward inputs: expected 1 tensor, got 2");
  EXPECT_EQ(forward_error("ffn.0.1", {floats({4, 7})}),
            "forward inputs[0]: expected float32[*, 8], got float32[4, 7]");
  EXPECT_EQ(forward_error("ffn.0.1", {floats({4, kHidden}, DType::Float64)}),
            "forward inputs[0]: expected float32[*, 8], got float64[4, 8]");
  EXPECT_EQ(forward_error("ffn.0.1", {floats({0, kHidden})}),
            "forward inputs: empty batch (0 rows)");
  EXPECT_EQ(backward_error("ffn.0.1", {ok}),
            "backward inputs: expected 2 tensors (1 input and 1 output gradient), got 1");
  EXPECT_EQ(backward_error("ffn.0.1", {ok, floats({4, 3})}),
            "backward grad_outputs[0]: expected float32[*, 8], got float32[4, 3]");
  EXPECT_EQ(backward_error("ffn.0.1", {ok, floats({5, kHidden})}),
            "backward: batch sizes differ: 4 (inputs) vs 5 (grad_outputs)");
  EXPECT_EQ(backward_error("x.9", {ok, ok}),
            "unknown expert 'x.9' (this server hosts 16 experts, e.g. ffn.0.0)");
}

TEST(ExpertServerHost, RefusesTasksLargerThanMaxBatchSize) {
  auto config = grid_config();
  config.max_batch_size = 16;
  ExpertServerHost host(config);
  EXPECT_EQ(error_of([&] {
              host.submit_forward("ffn.0.0", {floats({17, kHidden})}, [](TaskOutcome) {});
            }),
            "batch of 17 rows exceeds --max-batch-size 16");
  test::Outcome outcome;
  host.submit_forward("ffn.0.0", {floats({16, kHidden})}, outcome.done());
  EXPECT_TRUE(outcome.get().ok());
}

// What a client does to check an answer: build the same (seed, uid) locally.
TEST_F(ExpertServerHostTest, ForwardMatchesALocalReference) {
  const auto x = torch::randn({5, kHidden});
  test::Outcome outcome;
  host_.submit_forward("ffn.1.2", {from_torch(x)}, outcome.done());
  const auto result = outcome.get();
  ASSERT_TRUE(result.ok()) << result.error;
  ASSERT_EQ(result.outputs.size(), 1u);
  auto local = make_expert({"ffn", kHidden, {}, {}}, "ffn.1.2", 99);
  torch::NoGradGuard no_grad;
  const auto expected = local->forward({x})[0];
  EXPECT_LT(test::max_diff(to_torch(result.outputs[0]), expected), 1e-6);
}

TEST_F(ExpertServerHostTest, BackwardReturnsInputGradsAndTrains) {
  const auto x = torch::randn({3, kHidden});
  const auto gy = torch::randn({3, kHidden});
  auto local = make_expert({"ffn", kHidden, {}, {}}, "ffn.3.0", 99);
  const auto leaf = x.clone().requires_grad_(true);
  local->forward({leaf})[0].backward(gy);

  test::Outcome outcome;
  host_.submit_backward("ffn.3.0", {from_torch(x), from_torch(gy)}, outcome.done());
  const auto result = outcome.get();
  ASSERT_TRUE(result.ok()) << result.error;
  ASSERT_EQ(result.outputs.size(), 1u);
  EXPECT_LT(test::max_diff(to_torch(result.outputs[0]), leaf.grad()), 1e-5);
  const auto description = host_.describe("ffn.3.0");
  EXPECT_EQ(description->steps, 1u);
  EXPECT_EQ(description->examples_processed, 3u);
  EXPECT_EQ(host_.describe("ffn.3.1")->steps, 0u);
}

TEST_F(ExpertServerHostTest, ConcurrentSubmitsCompleteExactlyOnce) {
  constexpr int kThreads = 4, kEach = 60;
  const auto uids = host_.uids();
  std::vector<std::atomic<int>> calls(kThreads * kEach);
  std::atomic<int> completed{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(t);
      for (int i = 0; i < kEach; ++i) {
        const int id = t * kEach + i;
        const int64_t rows = 1 + random() % 9;
        const auto& uid = uids[random() % uids.size()];
        auto done = [&, id, rows](TaskOutcome outcome) {
          calls[id]++;
          if (!outcome.ok() || outcome.outputs.size() != 1 || outcome.outputs[0].shape[0] != rows) {
            failed++;
          }
          completed++;
        };
        if (i % 3 == 2) {
          host_.submit_backward(uid, {floats({rows, kHidden}), floats({rows, kHidden})}, done);
        } else {
          host_.submit_forward(uid, {floats({rows, kHidden})}, done);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (completed < kThreads * kEach && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  host_.stop();  // nothing left to fail; also proves stop() after work is clean
  EXPECT_EQ(failed.load(), 0);
  for (auto& count : calls) EXPECT_EQ(count.load(), 1);
}

TEST_F(ExpertServerHostTest, StatsReportCoversTheInterval) {
  for (int i = 0; i < 3; ++i) {
    test::Outcome outcome;
    host_.submit_forward("ffn.0.0", {floats({4, kHidden})}, outcome.done());
    ASSERT_TRUE(outcome.get().ok());
  }
  const auto lines = host_.stats_report();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("ffn.0.0 forward: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("mean batch 4.0"), std::string::npos) << lines[0];
  EXPECT_TRUE(host_.stats_report().empty());
}

TEST(ExpertServerHost, StopFailsQueuedTasksAndRefusesNewOnes) {
  ExpertServerConfig config;
  config.uids = {"nop.0"};
  config.expert_cls = "nop_delay";
  config.hidden_dim = 4;
  config.max_batch_size = 2;
  ExpertServerHost host(config);
  test::Outcome running, queued1, queued2;
  host.submit_forward("nop.0", {floats({2, 4})}, running.done());
  std::this_thread::sleep_for(200ms);  // the runtime is inside the 0.5 s sleep
  host.submit_forward("nop.0", {floats({2, 4})}, queued1.done());
  host.submit_backward("nop.0", {floats({2, 4}), floats({2, 4})}, queued2.done());
  const auto start = std::chrono::steady_clock::now();
  host.stop();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms) << "waits for the batch in progress";
  EXPECT_TRUE(running.get(0ms).ok());
  EXPECT_EQ(queued1.get(0ms).error, "server shutting down");
  EXPECT_EQ(queued2.get(0ms).error, "server shutting down");
  EXPECT_EQ(error_of([&] {
              host.submit_forward("nop.0", {floats({2, 4})}, [](TaskOutcome) {});
            }),
            "server shutting down");
  host.stop();  // idempotent
}

ExpertServerConfig nop_delay_config() {
  ExpertServerConfig config;
  config.uids = {"nop.0"};
  config.expert_cls = "nop_delay";  // 0.5 s per batch
  config.hidden_dim = 4;
  config.max_batch_size = 2;
  return config;
}

constexpr const char* kDroppedAfter150 =
    "deadline exceeded: the client gave up after 150 ms; dropped before computing";

// Behind a 0.5 s batch, calls whose client gives up after 150 ms are dropped
// unrun (the backward one takes no optimizer step); a call with a longer
// deadline, and the batch already running, are answered; stats count them.
TEST(ExpertServerHost, DropsTasksWhoseDeadlinePassedInTheQueue) {
  ExpertServerHost host(nop_delay_config());
  test::Outcome running, late_forward, late_backward, patient;
  host.submit_forward("nop.0", {floats({2, 4})}, running.done());
  std::this_thread::sleep_for(100ms);  // the runtime is inside the 0.5 s sleep
  const auto now = std::chrono::steady_clock::now();
  host.submit_forward("nop.0", {floats({2, 4})}, late_forward.done(),
                      CallDeadline::after_budget(150, now));
  host.submit_backward("nop.0", {floats({2, 4}), floats({2, 4})}, late_backward.done(),
                       CallDeadline::after_budget(150, now));
  host.submit_forward("nop.0", {floats({2, 4})}, patient.done(),
                      CallDeadline::after_budget(20000, now));
  EXPECT_TRUE(running.get().ok());
  EXPECT_EQ(late_forward.get().error, kDroppedAfter150);
  EXPECT_EQ(late_backward.get().error, kDroppedAfter150);
  const auto answered = patient.get();
  EXPECT_TRUE(answered.ok()) << answered.error;
  EXPECT_EQ(host.describe("nop.0")->steps, 0u) << "no optimizer step for a dropped backward";
  const auto lines = host.stats_report();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("nop.0 forward: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("mean batch 2.0, 1 dropped past their deadline"), std::string::npos)
      << lines[0];
  EXPECT_EQ(lines[1].rfind("nop.0 backward: 0.0 batches/s", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find(", 1 dropped past their deadline"), std::string::npos) << lines[1];
}

// The whole way: hm's client sends its budget, the RPC server makes it a
// deadline, the pool drops the late call and the client reads why.
TEST(ExpertServerHost, OverRpcALateCallFailsNamingTheDeadline) {
  ExpertServerHost host(nop_delay_config());
  rpc::ServerThread server(host);
  io::EventLoop loop;
  auto client = rpc::wait_for(loop, rpc::ExpertClient::connect(loop, server.address()), 5,
                              "connect");
  std::vector<HostTensor> inputs{floats({2, 4})};
  auto slow = client->forward("nop.0", inputs);
  auto late = client->forward("nop.0", inputs, CallDeadline::in(150ms));
  auto unlimited = client->forward("nop.0", inputs);
  const auto message =
      error_of([&] { rpc::wait_for(loop, kj::mv(late), 10, "forward with a deadline"); });
  EXPECT_NE(message.find("deadline exceeded: the client gave up after 1"), std::string::npos)
      << message;
  EXPECT_NE(message.find(" ms; dropped before computing"), std::string::npos) << message;
  EXPECT_EQ(rpc::wait_for(loop, kj::mv(slow), 10, "forward").size(), 1u);
  EXPECT_EQ(rpc::wait_for(loop, kj::mv(unlimited), 10, "forward").size(), 1u);
}

TEST(ExpertServerHost, RefusesBadConfigs) {
  auto config = grid_config();
  config.uids.clear();
  EXPECT_THROW(ExpertServerHost{config}, UsageError);
  config = grid_config();
  config.uids.push_back(config.uids.front());
  EXPECT_THROW(ExpertServerHost{config}, UsageError);
  config = grid_config("mlp");
  EXPECT_THROW(ExpertServerHost{config}, UsageError);
  config = grid_config("transformer");
  config.hidden_dim = 100;
  EXPECT_THROW(ExpertServerHost{config}, UsageError);
  config = grid_config();
  config.min_batch_size = 5000;
  EXPECT_THROW(ExpertServerHost{config}, UsageError);
  config = grid_config();
  config.optimizer = "adagrad";
  EXPECT_THROW(ExpertServerHost{config}, UsageError);
  config = grid_config();
  config.device = "tpu";
  EXPECT_THROW(ExpertServerHost{config}, UsageError);
}

TEST(ExpertServerHost, CudaWithoutCudaIsAClearError) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA is available here";
  auto config = grid_config();
  config.device = "cuda:1";
  const auto message = error_of([&] { ExpertServerHost host(config); });
  EXPECT_NE(message.find("'cuda:1' requested but CUDA is not available"), std::string::npos)
      << message;
}

TEST(ExpertServerHostCuda, ServesOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA";
  auto config = grid_config();
  config.device = "cuda";
  ExpertServerHost host(config);
  const auto x = torch::randn({5, kHidden});
  test::Outcome outcome;
  host.submit_forward("ffn.0.0", {from_torch(x)}, outcome.done());
  const auto result = outcome.get();
  ASSERT_TRUE(result.ok()) << result.error;
  auto local = make_expert({"ffn", kHidden, {}, {}}, "ffn.0.0", 99);
  torch::NoGradGuard no_grad;
  EXPECT_LT(test::max_diff(to_torch(result.outputs[0]), local->forward({x})[0]), 1e-4);
}

// hm-serve's startup case (timed by hm-bench, not here): 16 large experts,
// built in parallel, each with its own deterministic weights.
TEST(ExpertServerHost, Builds16LargeFfnExperts) {
  ExpertServerConfig config;
  for (int i = 0; i < 16; ++i) config.uids.push_back(fmt::format("ffn.{}", i));
  ExpertServerHost host(config);
  EXPECT_EQ(host.uids().size(), 16u);
  auto description = host.describe("ffn.15");
  ASSERT_TRUE(description.has_value());
  EXPECT_EQ(description->inputs[0], (TensorSpec{DType::Float32, {-1, 1024}}));
}

}  // namespace
}  // namespace hm::moe
