// hm-serve's flags become the experts' configuration (serving itself:
// tests/e2e/serve_*).
#include "hm/serve/serve_experts.h"

#include <gtest/gtest.h>

#include "hm/base/error.h"

namespace hm::serve {
namespace {

TEST(ServerConfig, CarriesEveryFlagAndKeepsDefaultsForZeros) {
  cli::ServeFlags flags;
  flags.expert_cls = "transformer";
  flags.hidden_dim = 64;
  flags.max_batch_size = 256;
  flags.min_batch_size = 8;
  flags.max_wait_ms = 12.5;
  flags.optimizer = "sgd";
  flags.seed = 7;
  flags.checkpoint_dir = "/tmp/ckpt";
  flags.checkpoint_every = 1.5;
  auto config = server_config(flags, {"ffn.0", "ffn.1"});
  EXPECT_EQ(config.uids, (std::vector<std::string>{"ffn.0", "ffn.1"}));
  EXPECT_EQ(config.expert_cls, "transformer");
  EXPECT_EQ(config.hidden_dim, 64);
  EXPECT_EQ(config.max_batch_size, 256u);
  EXPECT_EQ(config.min_batch_size, 8u);
  EXPECT_EQ(config.max_wait, std::chrono::milliseconds(12));
  EXPECT_EQ(config.optimizer, "sgd");
  EXPECT_FALSE(config.lr.has_value());  // --lr 0: sgd's own default
  EXPECT_FALSE(config.clip_grad_norm.has_value());
  EXPECT_EQ(config.seed, 7u);
  EXPECT_EQ(config.checkpoint_dir, "/tmp/ckpt");
  EXPECT_EQ(config.checkpoint_every, std::chrono::milliseconds(1500));

  flags.lr = 0.5;
  flags.clip_grad_norm = 2;
  config = server_config(flags, {"ffn.0"});
  EXPECT_EQ(config.lr, 0.5);
  EXPECT_EQ(config.clip_grad_norm, 2.0);
}

TEST(ServerConfig, AModuleNamesItsInputs) {
  cli::ServeFlags flags;
  flags.module = "/models/expert.pt";
  flags.module_inputs = {"float32[*, 16]", "int64[*]"};
  auto config = server_config(flags, {"m.0"});
  EXPECT_EQ(config.expert_cls, "module");
  EXPECT_EQ(config.module_path, "/models/expert.pt");
  ASSERT_EQ(config.module_inputs.size(), 2u);
  EXPECT_EQ(config.module_inputs[0], (TensorSpec{DType::Float32, {-1, 16}}));
  EXPECT_EQ(config.module_inputs[1], (TensorSpec{DType::Int64, {-1}}));

  flags.module_inputs = {"float32[16"};
  EXPECT_THROW(server_config(flags, {"m.0"}), Error);
}

}  // namespace
}  // namespace hm::serve
