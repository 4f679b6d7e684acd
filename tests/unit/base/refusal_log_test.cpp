#include "hm/base/refusal_log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

namespace hm {
namespace {

double refusals_of(const std::string& limit) {
  return metrics::default_registry()
      .counter("hm_refusals_total", "", {"limit"})
      .with({limit})
      .value();
}

TEST(FlagNamedIn, FindsTheLastFlagAMessageNames) {
  EXPECT_EQ(flag_named_in("too many calls in flight (limit 4, --max-in-flight)"),
            "max-in-flight");
  EXPECT_EQ(flag_named_in("over 2000 requests/s (--dht-max-rps; burst 4000)"), "dht-max-rps");
  EXPECT_EQ(flag_named_in("batch of 9 rows exceeds --max-batch-size 8"), "max-batch-size");
  EXPECT_EQ(flag_named_in("--a then --b-c"), "b-c");
  EXPECT_EQ(flag_named_in("unknown expert 'x'"), "");
  EXPECT_EQ(flag_named_in("a -- b ---c --"), "");
}

TEST(RefusalLog, CountsEveryRefusalByLimitAndLogsOnePerPeriod) {
  const double before = refusals_of("test-limit");
  testing::internal::CaptureStderr();
  init_logging("hm-test", "info", LogFormat::json);
  {
    RefusalLog log("tests", std::chrono::hours(1));
    int described = 0;
    for (int i = 0; i < 100; ++i) {
      log.refused(
          "test-limit", [&] { return "refused test " + std::to_string(++described); },
          [] { return std::string("10.0.0.1:7"); });
    }
    log.refused("", [] { return std::string("refused, no limit"); });
    EXPECT_EQ(described, 1);  // only the first line is described
    EXPECT_EQ(log.total(), 101u);
  }
  std::string text = testing::internal::GetCapturedStderr();
  init_logging("hm-test", "info", LogFormat::text);
  EXPECT_EQ(refusals_of("test-limit") - before, 100);
  auto newline = text.find('\n');
  ASSERT_NE(newline, std::string::npos) << text;
  auto first = nlohmann::json::parse(text.substr(0, newline));
  EXPECT_EQ(first["message"], "refused test 1");
  EXPECT_EQ(first["limit"], "test-limit");
  EXPECT_EQ(first["peer"], "10.0.0.1:7");
  // The destructor's summary counts the 100 that were not logged in full.
  EXPECT_NE(text.find("refused 100 more tests"), std::string::npos) << text;
}

}  // namespace
}  // namespace hm
