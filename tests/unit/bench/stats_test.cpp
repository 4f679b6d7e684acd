#include "hm/bench/stats.h"

#include <gtest/gtest.h>

#include <vector>

#include "hm/base/error.h"
#include "hm/bench/progress.h"

namespace hm::bench {
namespace {

TEST(Percentile, NearestRankPicksAMeasuredValue) {
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_EQ(percentile(v, 0), 1);
  EXPECT_EQ(percentile(v, 25), 1);
  EXPECT_EQ(percentile(v, 26), 2);
  EXPECT_EQ(percentile(v, 50), 2);
  EXPECT_EQ(percentile(v, 75), 3);
  EXPECT_EQ(percentile(v, 99), 4);
  EXPECT_EQ(percentile(v, 100), 4);
}

TEST(Percentile, HundredValues) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(percentile(v, 50), 50);
  EXPECT_EQ(percentile(v, 90), 90);
  EXPECT_EQ(percentile(v, 99), 99);
  EXPECT_EQ(percentile(v, 99.5), 100);
}

TEST(Percentile, RefusesEmptyAndOutOfRange) {
  EXPECT_THROW(percentile(std::vector<double>{}, 50), Error);
  EXPECT_THROW(percentile(std::vector<double>{1}, -1), Error);
  EXPECT_THROW(percentile(std::vector<double>{1}, 100.5), Error);
}

TEST(Summarize, UnsortedValues) {
  auto s = summarize({5, 1, 4, 2, 3});
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.mean, 3);
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(2.0));
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 5);
  EXPECT_EQ(s.p50, 3);
  EXPECT_EQ(s.p90, 5);
  EXPECT_EQ(s.p99, 5);
}

TEST(Summarize, EmptyIsAllZeros) {
  auto s = summarize({});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.mean, 0);
  EXPECT_EQ(s.max, 0);
}

TEST(Rates, ZeroDenominators) {
  EXPECT_DOUBLE_EQ(per_second(1000, 2), 500);
  EXPECT_EQ(per_second(1000, 0), 0);
  EXPECT_DOUBLE_EQ(ratio(97, 100), 0.97);
  EXPECT_EQ(ratio(1, 0), 0);
}

TEST(Memory, PeakRssIsPlausible) {
  const double mb = peak_rss_mb();
  EXPECT_GT(mb, 1.0);
  EXPECT_LT(mb, 1 << 20);
  const double now = current_rss_mb();
  EXPECT_GT(now, 1.0);
  EXPECT_LE(now, mb + 1.0);
}

TEST(Clock, MonotonicAdvances) {
  const double a = monotonic_seconds();
  const double b = monotonic_seconds();
  EXPECT_GT(a, 0);
  EXPECT_GE(b, a);
}

TEST(ProgressLine, BarFillsWithTheCount) {
  EXPECT_EQ(format_progress("run", 5, 10, 1.3, 29), "run [#####.....]  5/10  1.3 s");
  EXPECT_EQ(format_progress("run", 0, 10, 0, 29), "run [..........]  0/10  0.0 s");
  EXPECT_EQ(format_progress("run", 12, 10, 0, 30), "run [##########]  12/10  0.0 s");
}

TEST(ProgressLine, UnknownTotalOrNoRoom) {
  EXPECT_EQ(format_progress("dht", 7, 0, 2.0), "dht  7  2.0 s");
  EXPECT_EQ(format_progress("a-long-label", 1, 2, 0, 10), "a-long-label  1/2  0.0 s");
}

TEST(Progress, CountsWithoutATerminal) {
  Progress progress("test", 3, false);
  progress.add();
  progress.add(2);
  EXPECT_EQ(progress.done(), 3u);
  progress.finish();
  progress.finish();
}

}  // namespace
}  // namespace hm::bench
