// hm-moe's flags -> the mixture and trainer configurations (the layer on a
// swarm: mixture_test.cpp and tests/e2e/moe_*).
#include "hm/client/layer_command.h"

#include <gtest/gtest.h>

#include "hm/base/error.h"
#include "../cli/usage_error.h"

namespace hm::client {
namespace {

std::string usage_error(const LayerFlags& flags) {
  return hm::test::usage_error([&] { train_config(flags); });
}

TEST(LayerCommand, MixtureFromTheFlags) {
  LayerFlags flags{.prefix = "ffn",
                   .grid = "4x2",
                   .k_best = 3,
                   .forward_timeout = 2.5,
                   .allow_zero_outputs = true};
  auto config = mixture_config(flags, 16);
  EXPECT_EQ(config.in_features, 16);
  EXPECT_EQ(config.grid.prefix, "ffn.");
  EXPECT_EQ(config.grid.dims, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(config.k_best, 3u);
  EXPECT_EQ(config.forward_timeout, 2.5);
  EXPECT_FALSE(config.timeout_after_k_min);  // 0 = none
  EXPECT_FALSE(config.backward_timeout);
  EXPECT_TRUE(config.allow_zero_outputs);
  flags.prefix = "ffn.";
  EXPECT_EQ(mixture_config(flags, 16).grid.prefix, "ffn.");
  flags.grid = "4x0";
  EXPECT_THROW(mixture_config(flags, 16), UsageError);
}

TEST(LayerCommand, TrainConfigFromTheFlags) {
  LayerFlags flags{.prefix = "ffn", .grid = "4x4", .hidden_dim = 32, .inject_failures = 0.1,
                   .save = "model.pt"};
  auto config = train_config(flags);
  EXPECT_EQ(config.block.in_features, 32);
  EXPECT_EQ(config.block.inject_failures, 0.1);
  EXPECT_EQ(config.hidden_dim, 32);
  EXPECT_EQ(config.save_path, "model.pt");
  EXPECT_EQ(config.data_dir, "/usr/share/datasets/fashion-mnist");
}

TEST(LayerCommand, TrainFlagsOutOfRangeAreUsageErrorsBeforeTheGrid) {
  const LayerFlags bad_grid{.grid = "bad"};
  const std::pair<void (*)(LayerFlags&), std::string> cases[] = {
      {[](LayerFlags& f) { f.trainers = 0; }, "--trainers must be at least 1"},
      {[](LayerFlags& f) { f.blocks = 0; }, "--blocks must be at least 1"},
      {[](LayerFlags& f) { f.steps = 0; }, "--batch-size and --steps must be at least 1"},
      {[](LayerFlags& f) { f.batch_size = 0; }, "--batch-size and --steps must be at least 1"},
      {[](LayerFlags& f) { f.inject_failures = 1; }, "--inject-failures must be in [0, 1)"},
      {[](LayerFlags& f) { f.inject_failures = -0.1; }, "--inject-failures must be in [0, 1)"},
      {[](LayerFlags&) {}, "--grid: bad grid 'bad' (expected sizes like 4x4)"},
  };
  for (const auto& [change, message] : cases) {
    auto flags = bad_grid;
    change(flags);
    EXPECT_EQ(usage_error(flags), message);
  }
}

}  // namespace
}  // namespace hm::client
