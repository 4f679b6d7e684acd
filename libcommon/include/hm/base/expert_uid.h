// Expert uids and prefixes, with hivemind's grammar, and expert patterns.
//
// A uid is a name followed by one or more integer coordinates: "ffn.3.14".
// The name is any non-empty text without '.' (UTF-8 is fine: "🤗.321");
// a coordinate is 0 or a decimal without leading zeros. A prefix is a name,
// zero or more coordinates, and a final '.': "ffn.", "ffn.3.". These match
// hivemind's regular expressions exactly (as fullmatch):
//   UID_PATTERN    ^(([^.])+)([.](?:[0]|([1-9]([0-9]*))))+$
//   PREFIX_PATTERN ^(([^.])+)([.](?:[0]|([1-9]([0-9]*))))*[.]$
//
// An ExpertPattern describes a grid of uids for a server to host:
// "ffn.[0:4].[0:4]" (16 experts), "expert.[0:16]", "ffn.3.[0:8]" (a fixed
// coordinate, then a range). Ranges are [begin:end), end exclusive.
//
// A grid size is "4x4", "16" or "2x8x8": the number of experts along each
// coordinate of a prefix (hm-moe --grid, hm-dht experts --grid).
//
// Pure functions and plain values; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hm {

bool is_valid_uid(std::string_view uid);
bool is_valid_prefix(std::string_view prefix);

// The prefix up to the last coordinate and that coordinate, like hivemind's
// split_uid: "ffn.1.2" -> {"ffn.1.", 2}; a prefix with a coordinate works too:
// "ffn.1.2." -> {"ffn.1.", 2}. Throws hm::Error for anything else, or a
// coordinate beyond int64_t.
std::pair<std::string, int64_t> split_uid(std::string_view uid_or_prefix);

// The sizes of a grid: "4x4" -> {4, 4}. Throws hm::UsageError naming
// `flag` and the text for anything but positive decimals joined by 'x':
// "--grid: bad grid '4x0' (expected sizes like 4x4)".
std::vector<int64_t> parse_grid(std::string_view text, std::string_view flag = "--grid");

struct ExpertPattern {
  struct Range {
    uint64_t begin = 0;
    uint64_t end = 0;  // exclusive; a fixed coordinate c is [c:c+1)
  };

  std::string name;           // the text before the first '.'
  std::vector<Range> ranges;  // one per coordinate, at least one
  std::string text;           // the pattern as given

  // Throws hm::UsageError naming the pattern: "expert pattern 'ffn.[4:2]':
  // range [4:2] is empty".
  static ExpertPattern parse(std::string_view text);

  // How many uids the pattern holds (throws hm::UsageError from parse when
  // that exceeds 2^64 - 1).
  uint64_t capacity() const;

  // `n` distinct uids drawn at random from the grid, in draw order; the same
  // seed gives the same uids on every platform. Throws hm::Error when
  // n > capacity().
  std::vector<std::string> sample(size_t n, uint64_t seed) const;

  // Every uid, last coordinate fastest. Throws hm::Error when capacity()
  // exceeds `max_count`.
  std::vector<std::string> all(uint64_t max_count = uint64_t{1} << 20) const;

  // The uid at position `index` (< capacity()) of all()'s order.
  std::string uid_at(uint64_t index) const;
};

}  // namespace hm
