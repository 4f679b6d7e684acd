#include "hm/base/expert_uid.h"

#include <charconv>
#include <unordered_set>

#include "hm/base/error.h"

namespace hm {
namespace {

// "0" or a decimal without a leading zero: (?:[0]|([1-9]([0-9]*))).
bool is_coordinate(std::string_view text) {
  if (text.empty() || (text[0] == '0' && text.size() > 1)) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Calls `part` for each '.'-separated piece of `text`; false if any returns false.
template <typename F>
bool all_parts(std::string_view text, F&& part) {
  while (true) {
    size_t dot = text.find('.');
    if (!part(text.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    text.remove_prefix(dot + 1);
  }
}

template <typename T>
bool parse_number(std::string_view text, T& value) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

// splitmix64: a tiny generator whose output is the same everywhere.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound), bound > 0, without modulo bias.
  uint64_t below(uint64_t bound) {
    uint64_t threshold = (0 - bound) % bound;
    while (true) {
      uint64_t r = next();
      if (r >= threshold) return r % bound;
    }
  }

 private:
  uint64_t state_;
};

ExpertPattern::Range parse_block(std::string_view block, std::string_view text) {
  auto bad = [&](std::string_view why) {
    throw UsageError(fmt::format("expert pattern '{}': {} (e.g. ffn.[0:4].[0:4] or ffn.3.[0:8])",
                                 text, why));
  };
  if (block.empty() || block[0] != '[') {
    uint64_t value = 0;
    if (!is_coordinate(block) || !parse_number(block, value) || value == UINT64_MAX) {
      bad(fmt::format("'{}' is neither a coordinate nor a range [begin:end]", block));
    }
    return {value, value + 1};
  }
  size_t colon = block.find(':');
  if (block.back() != ']' || colon == std::string_view::npos) {
    bad(fmt::format("malformed range '{}'", block));
  }
  ExpertPattern::Range range;
  if (!parse_number(block.substr(1, colon - 1), range.begin) ||
      !parse_number(block.substr(colon + 1, block.size() - colon - 2), range.end)) {
    bad(fmt::format("malformed range '{}'", block));
  }
  if (range.begin >= range.end) {
    throw UsageError(fmt::format("expert pattern '{}': range {} is empty", text, block));
  }
  return range;
}

uint64_t checked_capacity(const std::vector<ExpertPattern::Range>& ranges,
                          std::string_view text) {
  uint64_t capacity = 1;
  for (const auto& range : ranges) {
    if (range.end <= range.begin) {
      throw UsageError(fmt::format("expert pattern '{}': range [{}:{}] is empty", text,
                                   range.begin, range.end));
    }
    uint64_t size = range.end - range.begin;
    if (capacity > UINT64_MAX / size) {
      throw UsageError(fmt::format("expert pattern '{}' holds more than 2^64 - 1 experts", text));
    }
    capacity *= size;
  }
  return capacity;
}

}  // namespace

bool is_valid_uid(std::string_view uid) {
  size_t dot = uid.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  return all_parts(uid.substr(dot + 1), is_coordinate);
}

bool is_valid_prefix(std::string_view prefix) {
  if (prefix.size() < 2 || prefix.back() != '.') return false;
  std::string_view head = prefix.substr(0, prefix.size() - 1);
  return head.find('.') == std::string_view::npos || is_valid_uid(head);
}

std::pair<std::string, int64_t> split_uid(std::string_view uid_or_prefix) {
  std::string_view uid = uid_or_prefix;
  if (is_valid_prefix(uid)) uid.remove_suffix(1);
  require(is_valid_uid(uid), "cannot split '{}': not an expert uid or a prefix with a coordinate",
          uid_or_prefix);
  size_t pivot = uid.rfind('.') + 1;
  int64_t coordinate = 0;
  require(parse_number(uid.substr(pivot), coordinate), "expert uid '{}': coordinate {} is too large",
          uid_or_prefix, uid.substr(pivot));
  return {std::string(uid.substr(0, pivot)), coordinate};
}

ExpertPattern ExpertPattern::parse(std::string_view text) {
  ExpertPattern pattern;
  pattern.text = std::string(text);
  size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0) {
    throw UsageError(fmt::format(
        "expert pattern '{}': expected a name and coordinates, e.g. ffn.[0:4].[0:4]", text));
  }
  pattern.name = std::string(text.substr(0, dot));
  all_parts(text.substr(dot + 1), [&](std::string_view block) {
    pattern.ranges.push_back(parse_block(block, text));
    return true;
  });
  checked_capacity(pattern.ranges, text);
  return pattern;
}

uint64_t ExpertPattern::capacity() const { return checked_capacity(ranges, text); }

std::string ExpertPattern::uid_at(uint64_t index) const {
  std::vector<uint64_t> coordinates(ranges.size());
  for (size_t d = ranges.size(); d-- > 0;) {
    uint64_t size = ranges[d].end - ranges[d].begin;
    coordinates[d] = ranges[d].begin + index % size;
    index /= size;
  }
  std::string uid = name;
  for (uint64_t c : coordinates) uid += fmt::format(".{}", c);
  return uid;
}

std::vector<std::string> ExpertPattern::sample(size_t n, uint64_t seed) const {
  uint64_t total = capacity();
  require(n <= total, "cannot sample {} distinct experts from '{}', which holds {}", n, text,
          total);
  Random random(seed);
  std::vector<std::string> uids;
  uids.reserve(n);
  if (total - n <= n) {
    // Dense: a partial Fisher-Yates shuffle of every index.
    std::vector<uint64_t> indices(total);
    for (uint64_t i = 0; i < total; ++i) indices[i] = i;
    for (size_t i = 0; i < n; ++i) {
      std::swap(indices[i], indices[i + random.below(total - i)]);
      uids.push_back(uid_at(indices[i]));
    }
    return uids;
  }
  // Sparse: draw until n distinct (each draw succeeds with probability > 1/2).
  std::unordered_set<uint64_t> taken;
  while (uids.size() < n) {
    uint64_t index = random.below(total);
    if (taken.insert(index).second) uids.push_back(uid_at(index));
  }
  return uids;
}

std::vector<std::string> ExpertPattern::all(uint64_t max_count) const {
  uint64_t total = capacity();
  require(total <= max_count, "expert pattern '{}' holds {} experts, more than the {} listed at once",
          text, total, max_count);
  std::vector<std::string> uids;
  uids.reserve(total);
  for (uint64_t i = 0; i < total; ++i) uids.push_back(uid_at(i));
  return uids;
}

}  // namespace hm

namespace hm {

std::vector<int64_t> parse_grid(std::string_view text, std::string_view flag) {
  std::vector<int64_t> dims;
  std::string_view rest = text;
  while (true) {
    auto x = rest.find('x');
    auto part = rest.substr(0, x);
    int64_t value = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || value <= 0) {
      throw UsageError(fmt::format("{}: bad grid '{}' (expected sizes like 4x4)", flag, text));
    }
    dims.push_back(value);
    if (x == std::string_view::npos) return dims;
    rest.remove_prefix(x + 1);
  }
}

}  // namespace hm
