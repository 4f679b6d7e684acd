// Checkpoints in a running server: saved at stop() and on a period (taken
// between batches), restored at start under the same uids, corrupt files
// skipped and kept, mismatches refused.
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "hm/base/error.h"
#include "hm/moe/checkpoint.h"
#include "hm/moe/expert_backend.h"
#include "hm/moe/expert_server_host.h"
#include "hm/moe/runtime.h"
#include "hm/torch/torch_bridge.h"
#include "torch_test_util.h"

namespace hm::moe {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kHidden = 8;

ExpertServerConfig config_in(const test::TempDir& dir, std::vector<std::string> uids,
                             uint64_t seed = 7) {
  ExpertServerConfig config;
  config.uids = std::move(uids);
  config.expert_cls = "ffn";
  config.hidden_dim = kHidden;
  config.optimizer = "adam";
  config.seed = seed;
  config.checkpoint_dir = dir.path().string();
  return config;
}

torch::Tensor forward(ExpertServerHost& host, const std::string& uid, const torch::Tensor& x) {
  test::Outcome outcome;
  host.submit_forward(uid, {from_torch(x)}, outcome.done());
  auto result = outcome.get();
  EXPECT_TRUE(result.ok()) << result.error;
  return result.ok() ? to_torch(result.outputs.at(0)).clone() : torch::Tensor();
}

torch::Tensor backward(ExpertServerHost& host, const std::string& uid, const torch::Tensor& x,
                       const torch::Tensor& gy) {
  test::Outcome outcome;
  host.submit_backward(uid, {from_torch(x), from_torch(gy)}, outcome.done());
  auto result = outcome.get();
  EXPECT_TRUE(result.ok()) << result.error;
  return result.ok() ? to_torch(result.outputs.at(0)).clone() : torch::Tensor();
}

void train(ExpertServerHost& host, const std::string& uid, int steps) {
  torch::manual_seed(21);
  for (int i = 0; i < steps; ++i) {
    backward(host, uid, torch::randn({4, kHidden}), torch::randn({4, kHidden}));
  }
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(CheckpointHost, SavesAtStopAndRestoresUnderTheSameUids) {
  test::TempDir dir;
  torch::manual_seed(1);
  const auto x = torch::randn({5, kHidden});
  const auto gy = torch::randn({5, kHidden});
  ExpertServerHost first(config_in(dir, {"ffn.0.0", "ffn.0.1"}));
  train(first, "ffn.0.0", 3);
  const auto y = forward(first, "ffn.0.0", x);
  first.stop();
  EXPECT_TRUE(std::filesystem::exists(dir.file("ffn.0.0.pt")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("ffn.0.1.pt")));

  // No uids asked for, other seed: everything comes from the checkpoints.
  ExpertServerHost second(config_in(dir, {}, 8));
  EXPECT_EQ(second.uids(), (std::vector<std::string>{"ffn.0.0", "ffn.0.1"}));
  EXPECT_EQ(second.describe("ffn.0.0")->steps, 3u);
  EXPECT_EQ(second.describe("ffn.0.0")->examples_processed, 12u);
  EXPECT_EQ(second.describe("ffn.0.1")->steps, 0u);
  EXPECT_TRUE(torch::equal(forward(second, "ffn.0.0", x), y));

  // Training continues exactly where the first host stopped (its runtime is
  // stopped, so this thread may call its backend).
  auto* original = first.backend("ffn.0.0");
  const auto grad_original = original->backward({x}, {gy})[0];
  EXPECT_TRUE(torch::equal(backward(second, "ffn.0.0", x, gy), grad_original));
  torch::Tensor y_original;
  {
    torch::NoGradGuard no_grad;
    y_original = original->forward({x})[0];
  }
  EXPECT_TRUE(torch::equal(forward(second, "ffn.0.0", x), y_original));
  EXPECT_EQ(second.describe("ffn.0.0")->steps, 4u);
  second.stop();

  // Uids on the command line join those restored.
  ExpertServerHost third(config_in(dir, {"ffn.5.5", "ffn.0.1"}));
  EXPECT_EQ(third.uids(), (std::vector<std::string>{"ffn.0.0", "ffn.0.1", "ffn.5.5"}));
  EXPECT_EQ(third.describe("ffn.0.0")->steps, 4u);
}

TEST(CheckpointHost, SavesPeriodicallyWhileServing) {
  test::TempDir dir;
  auto config = config_in(dir, {"ffn.1.1", "ffn.1.2"});
  config.checkpoint_every = 10ms;
  ExpertServerHost host(config);
  constexpr int kSteps = 20;
  std::thread trainer([&] { train(host, "ffn.1.1", kSteps); });
  trainer.join();
  // Two more rounds: the second one began after the last backward.
  const auto rounds = host.checkpoint_rounds();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (host.checkpoint_rounds() < rounds + 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GE(host.checkpoint_rounds(), rounds + 2);
  EXPECT_EQ(read_checkpoint_header(dir.file("ffn.1.1.pt")).steps, uint64_t{kSteps});
  EXPECT_EQ(read_checkpoint_header(dir.file("ffn.1.2.pt")).steps, 0u);
  host.stop();
  EXPECT_EQ(read_checkpoint_header(dir.file("ffn.1.1.pt")).steps, uint64_t{kSteps});
}

TEST(CheckpointHost, SkipsAndKeepsCorruptCheckpoints) {
  test::TempDir dir;
  {
    ExpertServerHost host(config_in(dir, {"ffn.0.0"}));
    train(host, "ffn.0.0", 2);
  }  // the destructor saves too
  const std::string garbage = "HMCKPT01 but then nothing sensible";
  std::ofstream(dir.file("ffn.0.1.pt"), std::ios::binary) << garbage;

  // Not asked for: skipped, and the file stays as it is.
  {
    ExpertServerHost host(config_in(dir, {}));
    EXPECT_EQ(host.uids(), (std::vector<std::string>{"ffn.0.0"}));
    EXPECT_EQ(host.describe("ffn.0.0")->steps, 2u);
  }
  EXPECT_EQ(read_bytes(dir.file("ffn.0.1.pt")), garbage);
  EXPECT_FALSE(std::filesystem::exists(dir.file("ffn.0.1.pt.corrupt")));

  // Asked for: hosted fresh; its first save keeps the corrupt file aside.
  {
    ExpertServerHost host(config_in(dir, {"ffn.0.1"}));
    EXPECT_EQ(host.uids(), (std::vector<std::string>{"ffn.0.0", "ffn.0.1"}));
    EXPECT_EQ(host.describe("ffn.0.1")->steps, 0u);
    train(host, "ffn.0.1", 1);
    EXPECT_EQ(read_bytes(dir.file("ffn.0.1.pt")), garbage);
    host.stop();
  }
  EXPECT_EQ(read_bytes(dir.file("ffn.0.1.pt.corrupt")), garbage);
  EXPECT_EQ(read_checkpoint_header(dir.file("ffn.0.1.pt")).steps, 1u);

  // Only corrupt checkpoints and no uids: nothing to host.
  test::TempDir only_bad;
  std::ofstream(only_bad.file("ffn.0.0.pt"), std::ios::binary) << garbage;
  try {
    ExpertServerHost host(config_in(only_bad, {}));
    ADD_FAILURE() << "hosted from a corrupt checkpoint";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "no expert to host: every checkpoint in " + only_bad.path().string() + " is corrupt");
  }
}

TEST(CheckpointHost, RefusesCheckpointsOfAnotherShape) {
  test::TempDir dir;
  { ExpertServerHost host(config_in(dir, {"ffn.2.0"})); }
  auto wide = config_in(dir, {"ffn.2.0"});
  wide.hidden_dim = 16;
  try {
    ExpertServerHost host(wide);
    ADD_FAILURE() << "restored a checkpoint of hidden dim 8 into 16";
  } catch (const UsageError& error) {
    ADD_FAILURE() << "a usage error: " << error.what();
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()),
              dir.file("ffn.2.0.pt") + ": saved with hidden dim 8, but this server has 16");
  }
}

TEST(CheckpointHost, NeedsUidsOrCheckpoints) {
  test::TempDir dir;
  try {
    ExpertServerHost host(config_in(dir, {}));
    ADD_FAILURE() << "hosted nothing";
  } catch (const UsageError& error) {
    EXPECT_EQ(std::string(error.what()),
              "no expert uids to host (and no checkpoints in " + dir.path().string() + ")");
  }
}

// What makes snapshots consistent: posted work runs on the runtime thread,
// never while a batch is running.
TEST(RuntimePost, RunsOnTheRuntimeThreadBetweenBatches) {
  std::atomic<bool> in_batch{false};
  std::atomic<std::thread::id> batch_thread{};
  auto pool = std::make_shared<TaskPool>(PoolOptions{"slow", 1, 1, 0ms},
                                         [&](const std::vector<torch::Tensor>& in) {
                                           in_batch = true;
                                           batch_thread = std::this_thread::get_id();
                                           std::this_thread::sleep_for(2ms);
                                           in_batch = false;
                                           return std::vector<torch::Tensor>{in.at(0)};
                                         });
  Runtime runtime("test runtime", {pool});
  runtime.start();
  constexpr int kTasks = 30;
  std::vector<test::Outcome> outcomes(kTasks);
  std::vector<std::future<std::pair<bool, std::thread::id>>> posted;
  for (int i = 0; i < kTasks; ++i) {
    pool->submit({from_torch(torch::ones({1, 2}))}, 1, outcomes[i].done());
    auto promise = std::make_shared<std::promise<std::pair<bool, std::thread::id>>>();
    posted.push_back(promise->get_future());
    ASSERT_TRUE(runtime.post([&, promise] {
      promise->set_value({in_batch.load(), std::this_thread::get_id()});
    }));
  }
  for (auto& outcome : outcomes) EXPECT_TRUE(outcome.get().ok());
  for (auto& future : posted) {
    ASSERT_EQ(future.wait_for(20s), std::future_status::ready);
    const auto [during_batch, thread] = future.get();
    EXPECT_FALSE(during_batch);
    EXPECT_EQ(thread, batch_thread.load());
  }
  runtime.stop();
  EXPECT_FALSE(runtime.post([] { ADD_FAILURE() << "ran after stop"; }));
}

}  // namespace
}  // namespace hm::moe
