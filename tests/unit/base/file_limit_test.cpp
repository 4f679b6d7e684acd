#include "hm/base/file_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdlib>

namespace hm {
namespace {

// Restores the process's open-file limit when a test ends.
class FileLimitTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved_), 0); }
  void TearDown() override { setrlimit(RLIMIT_NOFILE, &saved_); }
  rlimit saved_{};
};

rlim_t soft_limit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

TEST_F(FileLimitTest, RaisesTowardWantedWithinTheHardLimit) {
  ASSERT_GT(saved_.rlim_max, 64u) << "needs a hard limit above 64 open files";
  rlimit low = saved_;
  low.rlim_cur = 32;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  EXPECT_EQ(raise_file_limit(48), 48u);
  EXPECT_EQ(soft_limit(), 48u);
  // Never lowers it.
  EXPECT_EQ(raise_file_limit(40), 48u);
  EXPECT_EQ(soft_limit(), 48u);
}

// Exits 0 when raise_file_limit(wanted) under a hard limit of 64 returns
// `expected` and leaves that soft limit. In a child process: without
// privileges a lowered hard limit cannot be raised back.
void check_under_hard_limit_64(size_t wanted, size_t expected) {
  rlimit capped{.rlim_cur = 32, .rlim_max = 64};
  if (setrlimit(RLIMIT_NOFILE, &capped) != 0) std::_Exit(2);
  bool ok = raise_file_limit(wanted) == expected && soft_limit() == expected;
  std::_Exit(ok ? 0 : 1);
}

TEST_F(FileLimitTest, StopsAtTheHardLimit) {
  ASSERT_GE(saved_.rlim_max, 64u);
  EXPECT_EXIT(check_under_hard_limit_64(1000, 64), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(check_under_hard_limit_64(50, 50), ::testing::ExitedWithCode(0), "");
}

TEST_F(FileLimitTest, WithoutAnArgumentRaisesToTheHardLimit) {
  ASSERT_GE(saved_.rlim_max, 64u);
  EXPECT_EXIT(check_under_hard_limit_64(SIZE_MAX, 64), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace hm
