#include "hm/base/expert_uid.h"

#include <gtest/gtest.h>

#include <set>

#include <fmt/format.h>

#include "hm/base/error.h"

namespace hm {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// The lists of hivemind's tests/test_dht_experts.py::test_uid_patterns.
const std::vector<std::string> kValidUids = {
    "expert.1", "expert.0", "expert.0.0.1", "expert.1337", "ffn.12.34.56.78.90",
    "transformer.3.2.1.0", "transformer_encoder.2", "transformer::encoder.2",
    "T®@nsf0rmE®🤗.321", "🤗.321", "0.1.2", "00.1.2", "7070.3.2.1.0", "block2.1.23",
    "LAYER.1.0.1"};

const std::vector<std::string> kInvalid = {
    "", ".", "expert.-1", "xxx.a", "expert.1x", "expert_ffn.1.abc1", "some.123.01",
    "expert.123.01", "e1", "e..1", "e", "e.1.2.3..4", "ffn.1..1", ".123", ".1.2.3.",
    ".expert", "transformer.encoder.2", "T®@nsf0rmE®.🤗.321", "layer::123",
    "expert.0.1.2.suffix", "0.1.2.suffix", "expert.1 something", "expert.1\n",
    "expert.1\n2", "expert.1 ", "expert.1\nexpert.2", "'expert.1'", "\"expert.1\""};

std::vector<std::string> valid_prefixes() {
  std::vector<std::string> prefixes = {"expert.", "e.1.", "e.2.", "e.1.2.3.",
                                       "ololo.123.456.789.10."};
  for (const auto& uid : kValidUids) prefixes.push_back(uid + ".");
  for (const auto& uid : kValidUids) prefixes.push_back(split_uid(uid).first);
  return prefixes;
}

TEST(ExpertUid, MatchesHivemindPatterns) {
  auto prefixes = valid_prefixes();
  for (const auto& uid : kValidUids) EXPECT_TRUE(is_valid_uid(uid)) << uid;
  for (const auto& prefix : prefixes) EXPECT_TRUE(is_valid_prefix(prefix)) << prefix;

  std::vector<std::string> invalid_uids = kInvalid;
  invalid_uids.insert(invalid_uids.end(), prefixes.begin(), prefixes.end());
  invalid_uids.insert(invalid_uids.end(), {"0", "123456"});
  std::vector<std::string> invalid_prefixes = kInvalid;
  invalid_prefixes.insert(invalid_prefixes.end(), kValidUids.begin(), kValidUids.end());
  invalid_prefixes.insert(invalid_prefixes.end(), {"expert", ".🤗", ".expert"});
  for (const auto& uid : invalid_uids) EXPECT_FALSE(is_valid_uid(uid)) << uid;
  for (const auto& prefix : invalid_prefixes) EXPECT_FALSE(is_valid_prefix(prefix)) << prefix;
}

TEST(ExpertUid, MoreEdgeCases) {
  EXPECT_FALSE(is_valid_uid("ffn.01"));
  EXPECT_FALSE(is_valid_uid("ffn.1."));
  EXPECT_FALSE(is_valid_uid("ffn..1"));
  EXPECT_FALSE(is_valid_uid("ffn.+1"));
  EXPECT_FALSE(is_valid_uid(std::string("ffn.1\0", 6)));
  EXPECT_TRUE(is_valid_uid(std::string("f\0n.1", 5)));  // [^.] is any other character
  EXPECT_TRUE(is_valid_uid("ffn.99999999999999999999999"));  // grammar only
  EXPECT_FALSE(is_valid_prefix("ffn.01."));
  EXPECT_FALSE(is_valid_prefix("ffn.."));
  EXPECT_FALSE(is_valid_prefix("ffn.1"));
  EXPECT_TRUE(is_valid_prefix("ффн."));
}

TEST(ExpertUid, SplitUid) {
  EXPECT_EQ(split_uid("a.1.2"), (std::pair<std::string, int64_t>{"a.1.", 2}));
  EXPECT_EQ(split_uid("expert.0"), (std::pair<std::string, int64_t>{"expert.", 0}));
  EXPECT_EQ(split_uid("ffn.1.2."), (std::pair<std::string, int64_t>{"ffn.1.", 2}));
  EXPECT_EQ(split_uid("🤗.321"), (std::pair<std::string, int64_t>{"🤗.", 321}));
  EXPECT_EQ(error_of([] { split_uid("ffn."); }),
            "cannot split 'ffn.': not an expert uid or a prefix with a coordinate");
  EXPECT_THROW(split_uid("ffn.01"), Error);
  EXPECT_EQ(error_of([] { split_uid("a.99999999999999999999"); }),
            "expert uid 'a.99999999999999999999': coordinate 99999999999999999999 is too large");
}

TEST(ExpertPattern, ParsesGridsAndFixedParts) {
  auto grid = ExpertPattern::parse("ffn.[0:4].[0:4]");
  EXPECT_EQ(grid.name, "ffn");
  EXPECT_EQ(grid.capacity(), 16u);
  auto line = ExpertPattern::parse("expert.[0:16]");
  EXPECT_EQ(line.capacity(), 16u);
  EXPECT_EQ(line.all().front(), "expert.0");
  EXPECT_EQ(line.all().back(), "expert.15");
  auto fixed = ExpertPattern::parse("ffn.3.[2:5]");
  EXPECT_EQ(fixed.all(), (std::vector<std::string>{"ffn.3.2", "ffn.3.3", "ffn.3.4"}));
  auto all = grid.all();
  EXPECT_EQ(all.size(), 16u);
  EXPECT_EQ(all[0], "ffn.0.0");
  EXPECT_EQ(all[1], "ffn.0.1");
  EXPECT_EQ(all[15], "ffn.3.3");
  for (const auto& uid : all) EXPECT_TRUE(is_valid_uid(uid)) << uid;
  EXPECT_EQ(ExpertPattern::parse("big.[0:4294967296].[0:4294967295]").capacity(),
            18446744069414584320u);  // 2^64 - 2^32
}

TEST(ExpertPattern, RefusesMalformedPatterns) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ffn.[4:2]", "expert pattern 'ffn.[4:2]': range [4:2] is empty"},
      {"ffn.[3:3]", "expert pattern 'ffn.[3:3]': range [3:3] is empty"},
      {"ffn", "expert pattern 'ffn': expected a name and coordinates"},
      {".[0:4]", "expert pattern '.[0:4]': expected a name and coordinates"},
      {"ffn.", "'' is neither a coordinate nor a range"},
      {"ffn.[0:4].", "'' is neither a coordinate nor a range"},
      {"ffn..[0:4]", "'' is neither a coordinate nor a range"},
      {"ffn.01", "'01' is neither a coordinate nor a range"},
      {"ffn.x", "'x' is neither a coordinate nor a range"},
      {"ffn.[0:4", "malformed range '[0:4'"},
      {"ffn.[04]", "malformed range '[04]'"},
      {"ffn.[a:4]", "malformed range '[a:4]'"},
      {"ffn.[-1:4]", "malformed range '[-1:4]'"},
      {"ffn.[0:99999999999999999999]", "malformed range '[0:99999999999999999999]'"},
      {"ffn.[0:4294967296].[0:4294967296].[0:2]", "holds more than 2^64 - 1 experts"},
  };
  for (const auto& [pattern, expected] : cases) {
    try {
      ExpertPattern::parse(pattern);
      ADD_FAILURE() << pattern << " parsed";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
          << pattern << " -> " << e.what();
    }
  }
}

TEST(ExpertPattern, SamplesDistinctUidsDeterministically) {
  auto grid = ExpertPattern::parse("ffn.[0:32].[0:256]");
  auto first = grid.sample(100, 7);
  EXPECT_EQ(first, grid.sample(100, 7));
  EXPECT_NE(first, grid.sample(100, 8));
  std::set<std::string> distinct(first.begin(), first.end());
  EXPECT_EQ(distinct.size(), 100u);
  for (const auto& uid : first) {
    auto [prefix, last] = split_uid(uid);
    EXPECT_LT(last, 256);
    EXPECT_LT(split_uid(prefix).second, 32);
    EXPECT_EQ(split_uid(prefix).first, "ffn.");
  }
  // Dense: every uid exactly once, in a shuffled order.
  auto small = ExpertPattern::parse("e.[0:4].[10:12]");
  auto everything = small.sample(8, 1);
  std::set<std::string> got(everything.begin(), everything.end());
  auto expected = small.all();
  EXPECT_EQ(got, std::set<std::string>(expected.begin(), expected.end()));
  EXPECT_NE(everything, expected);
  EXPECT_TRUE(small.sample(0, 1).empty());
  EXPECT_EQ(error_of([&] { small.sample(9, 1); }),
            "cannot sample 9 distinct experts from 'e.[0:4].[10:12]', which holds 8");
  // Huge grids sample without enumerating.
  auto huge = ExpertPattern::parse("x.[0:4294967296].[0:4294967295]");
  auto drawn = huge.sample(3, 5);
  EXPECT_EQ(std::set<std::string>(drawn.begin(), drawn.end()).size(), 3u);
  EXPECT_EQ(error_of([&] { huge.all(); }),
            "expert pattern 'x.[0:4294967296].[0:4294967295]' holds 18446744069414584320 "
            "experts, more than the 1048576 listed at once");
}

TEST(Grid, ParsesSizesJoinedByX) {
  EXPECT_EQ(parse_grid("4x4"), (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(parse_grid("16"), (std::vector<int64_t>{16}));
  EXPECT_EQ(parse_grid("2x8x1"), (std::vector<int64_t>{2, 8, 1}));
  for (const char* bad : {"", "x", "4x", "x4", "4x0", "4x-1", "4*4", "4x4 ", "99999999999999999999"}) {
    EXPECT_EQ(error_of([&] { parse_grid(bad); }),
              fmt::format("--grid: bad grid '{}' (expected sizes like 4x4)", bad))
        << bad;
  }
  EXPECT_THROW(parse_grid("0"), UsageError);
  EXPECT_EQ(error_of([&] { parse_grid("4y4", "grid"); }),
            "grid: bad grid '4y4' (expected sizes like 4x4)");
}

}  // namespace
}  // namespace hm
