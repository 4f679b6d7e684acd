// The pure parts of hm-serve's command: flags -> uids, addresses, limits.
#include "hm/cli/serve_command.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <set>


#include "usage_error.h"

namespace hm::cli {
namespace {

using hm::test::usage_error;

TEST(ServeCommand, ExplicitUidsAreCheckedAndKept) {
  ServeFlags flags;
  flags.expert_uids = {"ffn.0.1", "ffn.3.2"};
  EXPECT_EQ(choose_uids(flags), flags.expert_uids);
  flags.expert_uids.push_back("ffn");
  EXPECT_EQ(usage_error([&] { choose_uids(flags); }),
            "--expert-uids: 'ffn' is not a valid uid (expected PREFIX.N[.N...], e.g. ffn.0.3)");
  flags.expert_uids = {"ffn.0"};
  flags.num_experts = 2;
  EXPECT_EQ(usage_error([&] { choose_uids(flags); }),
            "give either --expert-uids or --num-experts/--expert-pattern, not both");
}

TEST(ServeCommand, PatternsAreSampledWithTheSeedOrTakenWhole) {
  ServeFlags flags;
  flags.expert_pattern = "ffn.[0:2].[0:3]";
  auto all = choose_uids(flags);
  EXPECT_EQ(all.size(), 6u);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 6u);
  flags.num_experts = 4;
  flags.seed = 5;
  auto some = choose_uids(flags);
  EXPECT_EQ(some.size(), 4u);
  EXPECT_EQ(choose_uids(flags), some);  // the same seed, the same uids
  for (const auto& uid : some) EXPECT_EQ(uid.rfind("ffn.", 0), 0u) << uid;
  flags.expert_pattern = "ffn.[4:2]";
  EXPECT_NE(usage_error([&] { choose_uids(flags); }).find("ffn.[4:2]"), std::string::npos);
}

TEST(ServeCommand, ACountAloneNamesExpertsByIndex) {
  ServeFlags flags;
  flags.num_experts = 3;
  EXPECT_EQ(choose_uids(flags), (std::vector<std::string>{"expert.0", "expert.1", "expert.2"}));
  flags.num_experts = 0;
  EXPECT_EQ(usage_error([&] { choose_uids(flags); }),
            "no experts: give --expert-uids UID... or --num-experts N (with --expert-pattern "
            "'prefix.[0:4].[0:4]')");
  flags.checkpoint_dir = "/tmp/checkpoints";  // hosts what is there
  EXPECT_TRUE(choose_uids(flags).empty());
}

TEST(ServeCommand, ChecksListenAndBatchSizesFirst) {
  ServeFlags flags;
  EXPECT_NO_THROW(check_serve_flags(flags));
  flags.listen = "nowhere";
  EXPECT_NE(usage_error([&] { check_serve_flags(flags); }).find("--listen"), std::string::npos);
  flags = {};
  flags.max_batch_size = 0;
  EXPECT_EQ(usage_error([&] { check_serve_flags(flags); }), "--max-batch-size must be at least 1");
  flags = {};
  flags.min_batch_size = 9;
  flags.max_batch_size = 4;
  EXPECT_EQ(usage_error([&] { check_serve_flags(flags); }),
            "--min-batch-size 9 exceeds --max-batch-size 4");
}

TEST(ServeCommand, AnnouncesTheReachableHost) {
  HostPort bound{"127.0.0.1", 7000};
  EXPECT_EQ(announced_address("", bound).to_string(), "127.0.0.1:7000");
  EXPECT_EQ(announced_address("10.0.0.5", bound).to_string(), "10.0.0.5:7000");
  HostPort any{"0.0.0.0", 7000};
  EXPECT_EQ(announced_address("box.lan", any).to_string(), "box.lan:7000");
  EXPECT_EQ(usage_error([&] { announced_address("", any); }),
            "--dht with --listen 0.0.0.0:7000: give --announce HOST, the address clients can "
            "reach");
  EXPECT_NE(usage_error([&] { announced_address("", HostPort{"::", 1}); }), "");
}

// Exits 0 when fit_connections(connections) under a hard open-file limit
// of `hard` returns `expected`. In a child: a lowered hard limit stays low.
void check_fit_under(rlim_t hard, uint32_t connections, uint32_t expected) {
  rlimit capped{.rlim_cur = hard, .rlim_max = hard};
  if (setrlimit(RLIMIT_NOFILE, &capped) != 0) std::_Exit(2);
  std::_Exit(fit_connections(connections) == expected ? 0 : 1);
}

TEST(ServeCommand, FitsConnectionsUnderTheOpenFileLimit) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GE(limit.rlim_max, 512u);
  EXPECT_EQ(fit_connections(16), 16u);  // 80 files: within any usual limit
  // Room for 1000 + 64 files: raised to the hard limit, connections cut to fit.
  EXPECT_EXIT(check_fit_under(512, 1000, 512 - 64), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(check_fit_under(100, 1000, 50), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(check_fit_under(512, 400, 400), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace hm::cli
