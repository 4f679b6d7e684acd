#include "hm/bench/presets.h"

#include <gtest/gtest.h>

#include "hm/base/error.h"

namespace hm::bench {
namespace {

TEST(Presets, DefaultIsHivemindsDefault) {
  auto p = throughput_preset("default");
  EXPECT_EQ(p.experts, 16u);
  EXPECT_EQ(p.clients, 128u);
  EXPECT_EQ(p.batches_per_client, 16u);
  EXPECT_EQ(p.batch_size, 2048u);
  EXPECT_EQ(p.hidden_dim, 1024);
  EXPECT_EQ(p.expert_cls, "ffn");
  EXPECT_EQ(p.max_batch_size, 8192u);
  EXPECT_TRUE(p.backprop);
  EXPECT_EQ(p.device, "cpu");
  auto alias = throughput_preset("ffn_forward_backward");
  EXPECT_EQ(alias.experts, p.experts);
  EXPECT_EQ(alias.backprop, p.backprop);
}

TEST(Presets, EachPresetsOverrides) {
  EXPECT_FALSE(throughput_preset("ffn_forward").backprop);

  auto small = throughput_preset("ffn_small_batch");
  EXPECT_FALSE(small.backprop);
  EXPECT_EQ(small.experts, 4u);
  EXPECT_EQ(small.batch_size, 32u);
  EXPECT_EQ(small.max_batch_size, 8192u);

  auto many = throughput_preset("ffn_small_batch_512clients");
  EXPECT_TRUE(many.backprop);
  EXPECT_EQ(many.experts, 1u);
  EXPECT_EQ(many.batch_size, 1u);
  EXPECT_EQ(many.clients, 512u);

  auto massive = throughput_preset("ffn_massive");
  EXPECT_FALSE(massive.backprop);
  EXPECT_EQ(massive.clients, 512u);
  EXPECT_EQ(massive.batch_size, 512u);
  EXPECT_EQ(massive.experts, 16u);

  auto minimal = throughput_preset("minimalistic");
  EXPECT_EQ(minimal.experts, 1u);
  EXPECT_EQ(minimal.clients, 1u);
  EXPECT_TRUE(minimal.backprop);
  EXPECT_EQ(minimal.batch_size, 2048u);

  auto nop = throughput_preset("nop");
  EXPECT_EQ(nop.expert_cls, "nop");
  EXPECT_FALSE(nop.backprop);
}

TEST(Presets, EveryListedNameWorks) {
  ASSERT_EQ(throughput_preset_names().size(), 8u);
  for (auto name : throughput_preset_names()) {
    EXPECT_NO_THROW(validate(throughput_preset(name))) << name;
  }
}

TEST(Presets, UnknownNameListsTheValidOnes) {
  try {
    throughput_preset("fast");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'fast'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("minimalistic"), std::string::npos);
  }
}

TEST(Overrides, ReplaceOnlyWhatIsSet) {
  ThroughputOverrides o;
  o.experts = 4;
  o.clients = 2;
  o.batch_size = 256;
  o.backprop = true;
  auto p = apply(throughput_preset("nop"), o);
  EXPECT_EQ(p.experts, 4u);
  EXPECT_EQ(p.clients, 2u);
  EXPECT_EQ(p.batch_size, 256u);
  EXPECT_TRUE(p.backprop);
  EXPECT_EQ(p.expert_cls, "nop");           // kept
  EXPECT_EQ(p.batches_per_client, 16u);     // kept
  EXPECT_EQ(p.max_batch_size, 8192u);       // the preset's, still large enough
}

TEST(Overrides, MaxBatchSizeFollowsALargerBatch) {
  ThroughputOverrides o;
  o.batch_size = 10000;
  EXPECT_EQ(apply(throughput_preset("default"), o).max_batch_size, 40000u);
  o.max_batch_size = 12000;
  EXPECT_EQ(apply(throughput_preset("default"), o).max_batch_size, 12000u);
  ThroughputParams bare;
  bare.max_batch_size = 0;
  bare.batch_size = 3;
  EXPECT_EQ(apply(bare, {}).max_batch_size, 12u);
}

TEST(Overrides, BadValuesAreUsageErrors) {
  ThroughputOverrides zero;
  zero.clients = 0;
  EXPECT_THROW(apply(throughput_preset("default"), zero), UsageError);
  ThroughputOverrides kind;
  kind.expert_cls = "mlp";
  EXPECT_THROW(apply(throughput_preset("default"), kind), UsageError);
  ThroughputOverrides limit;
  limit.max_batch_size = 16;
  EXPECT_THROW(apply(throughput_preset("default"), limit), UsageError);
  ThroughputOverrides hidden;
  hidden.hidden_dim = 0;
  EXPECT_THROW(apply(throughput_preset("default"), hidden), UsageError);
}

TEST(Uids, HivemindsNames) {
  EXPECT_EQ(bench_uid(0), "expert.0");
  EXPECT_EQ(bench_uid(15), "expert.15");
}

}  // namespace
}  // namespace hm::bench
