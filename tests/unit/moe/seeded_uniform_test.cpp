// fill_uniform against the per-element loop it replaced (one at::mt19937
// call per element): the same floats bit for bit, and the generator left in
// the same state, for counts that end before, on and after a twist.
#include "moe/seeded_uniform.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <vector>

namespace hm::moe::detail {
namespace {

std::vector<float> per_element(int64_t count, double bound, at::mt19937& gen) {
  const auto from = static_cast<float>(-bound);
  const float range = static_cast<float>(bound) - from;
  constexpr uint32_t kMask = (1u << 24) - 1;
  constexpr float kScale = 1.0f / (1u << 24);
  std::vector<float> out(static_cast<size_t>(count));
  for (auto& value : out) value = static_cast<float>(gen() & kMask) * kScale * range + from;
  return out;
}

std::vector<uint32_t> bits(const std::vector<float>& values) {
  std::vector<uint32_t> out;
  for (float value : values) out.push_back(std::bit_cast<uint32_t>(value));
  return out;
}

TEST(SeededUniform, MatchesOneGeneratorCallPerElementAcrossTwists) {
  // Runs of these lengths, one after another from one seed: a fresh state
  // (twist first), runs inside one block, ending exactly on a block, and
  // runs spanning several blocks.
  const std::vector<int64_t> runs{0, 1, 622, 1, 1, 623, 624, 625, 5000, 3, 100'003, 624 * 7};
  for (uint64_t seed : {0ull, 42ull, 0xdeadbeefcafeull}) {
    at::mt19937 fast(seed), slow(seed);
    for (int64_t count : runs) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(count + 1));
      auto expected = per_element(count, bound, slow);
      std::vector<float> got(static_cast<size_t>(count), -7.0f);
      fill_uniform(got.data(), count, bound, fast);
      ASSERT_EQ(bits(got), bits(expected)) << "seed " << seed << ", run of " << count;
      for (float value : got) {
        ASSERT_GE(value, static_cast<float>(-bound));
        ASSERT_LE(value, static_cast<float>(bound));
      }
    }
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(fast(), slow()) << "generator state differs";
  }
}

}  // namespace
}  // namespace hm::moe::detail
