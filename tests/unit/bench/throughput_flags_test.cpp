// throughput_run(): hm-bench throughput's flags -> the run.
#include <gtest/gtest.h>

#include "hm/base/error.h"
#include "hm/bench/client_process.h"
#include "hm/bench/throughput.h"

namespace hm::bench {
namespace {

TEST(ThroughputFlags, ThePresetWithTheFlagsGivenOverIt) {
  ThroughputFlags flags;
  flags.preset = "ffn_forward";
  flags.overrides.experts = 3;
  flags.overrides.batch_size = 16;
  flags.run.rounds = 2;
  auto run = throughput_run(flags, 0);
  EXPECT_EQ(run.params.experts, 3u);
  EXPECT_EQ(run.params.batch_size, 16u);
  EXPECT_EQ(run.params.clients, throughput_preset("ffn_forward").clients);
  EXPECT_FALSE(run.params.backprop);
  EXPECT_EQ(run.rounds, 2u);
  EXPECT_TRUE(run.client_argv.empty());  // threads

  flags.backprop = true;
  EXPECT_TRUE(throughput_run(flags, 0).params.backprop);
  flags = {};
  flags.no_backprop = true;
  EXPECT_FALSE(throughput_run(flags, 0).params.backprop);
}

TEST(ThroughputFlags, ClientProcessesReexecuteThisBinary) {
  ThroughputFlags flags;
  flags.client_processes = true;
  auto run = throughput_run(flags, 25);
  EXPECT_EQ(run.client_argv,
            (std::vector<std::string>{self_executable(), "_client", "--busy-poll", "25"}));
  EXPECT_NE(self_executable().find("hm_bench_tests"), std::string::npos);
}

TEST(ThroughputFlags, BadPresetsAndParametersAreUsageErrors) {
  ThroughputFlags flags;
  flags.preset = "nope";
  EXPECT_THROW(throughput_run(flags, 0), UsageError);
  flags = {};
  flags.overrides.expert_cls = "nope";
  try {
    throughput_run(flags, 0);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(),
                 "--expert-cls 'nope' is not one of ffn, transformer, det_dropout, nop, nop_delay");
  }
}

}  // namespace
}  // namespace hm::bench
