#include "hm/base/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "hm/base/error.h"

namespace hm {
namespace {

// The lines logged while `body` runs, as written to stderr.
template <typename Body>
std::string logged(LogFormat format, Body&& body) {
  testing::internal::CaptureStderr();
  init_logging("hm-test", "info", format);
  body();
  std::string text = testing::internal::GetCapturedStderr();
  init_logging("hm-test", "info", LogFormat::text);
  return text;
}

TEST(Log, JsonLinesCarryTimeLevelBinaryMessageAndFields) {
  auto text = logged(LogFormat::json, [] {
    log_with(spdlog::level::warn, {{"uid", "ffn.0.1"}, {"limit", "max-in-flight"}, {"peer", ""}},
             "refused {} calls", 3);
  });
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  auto line = nlohmann::json::parse(text);
  EXPECT_EQ(line["level"], "warning");
  EXPECT_EQ(line["binary"], "hm-test");
  EXPECT_EQ(line["message"], "refused 3 calls");
  EXPECT_EQ(line["uid"], "ffn.0.1");
  EXPECT_EQ(line["limit"], "max-in-flight");
  EXPECT_FALSE(line.contains("peer"));  // empty fields are left out
  const std::string time = line["time"];
  ASSERT_EQ(time.size(), 24u) << time;  // 2026-12-07T20:48:49.123Z
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time.back(), 'Z');
}

TEST(Log, PlainSpdlogCallsAreJsonTooAndHostileTextStaysValid) {
  auto text = logged(LogFormat::json, [] {
    spdlog::info("quote \" backslash \\ newline \n tab \t bell \x07 broken \xff\xfe end");
    spdlog::error("second");
  });
  auto newline = text.find('\n');
  ASSERT_NE(newline, std::string::npos);
  auto first = nlohmann::json::parse(text.substr(0, newline));
  EXPECT_EQ(first["level"], "info");
  EXPECT_EQ(first["message"],
            "quote \" backslash \\ newline \n tab \t bell \x07 broken \xef\xbf\xbd\xef\xbf\xbd end");
  EXPECT_EQ(nlohmann::json::parse(text.substr(newline + 1))["message"], "second");
}

TEST(Log, TextLinesShowTheMessageOnly) {
  auto text = logged(LogFormat::text, [] {
    log_with(spdlog::level::warn, {{"uid", "ffn.0.1"}}, "expert {} is slow", "ffn.0.1");
  });
  EXPECT_NE(text.find("hm-test warning: expert ffn.0.1 is slow\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("uid"), std::string::npos);
}

TEST(Log, LevelsBelowTheThresholdAreNotFormatted) {
  auto text = logged(LogFormat::json, [&] {
    log_with(spdlog::level::debug, {{"uid", "ffn.0.0"}}, "hidden {}", 1);
    spdlog::debug("hidden too");
  });
  EXPECT_TRUE(text.empty()) << text;
}

TEST(Log, FormatNamesAreCheckedAndJsonQuoteEscapes) {
  EXPECT_EQ(parse_log_format("text"), LogFormat::text);
  EXPECT_EQ(parse_log_format("json"), LogFormat::json);
  try {
    parse_log_format("xml");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--log-format: unknown format 'xml' (use text or json)");
  }
  EXPECT_EQ(json_quote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  EXPECT_EQ(json_quote("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");  // UTF-8 kept
  EXPECT_EQ(json_quote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");      // overlong '/'
  EXPECT_EQ(json_quote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  EXPECT_EQ(json_quote("\xe2\x82"), "\"\\ufffd\\ufffd\"");      // truncated
}

}  // namespace
}  // namespace hm
