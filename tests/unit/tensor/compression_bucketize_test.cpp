// White-box: the table-driven Bucketizer behind quantile8 and blockwise8
// counts exactly the borders strictly below each value, as a binary search
// does, for border sets that stress its table: ties, crowds closer than a
// cell, offsets far from 0, zeros of both signs, extremes, subnormals.
#include "tensor/compression_bucketize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <random>

namespace hm::detail {
namespace {

// What torch.bucketize(x, borders, right=False) returns, by binary search.
uint8_t expected_code(const std::vector<float>& borders, float x) {
  return static_cast<uint8_t>(std::lower_bound(borders.begin(), borders.end(), x) -
                              borders.begin());
}

void check(std::vector<float> borders, std::vector<float> values, const std::string& what) {
  std::sort(borders.begin(), borders.end());
  // The borders themselves and their neighbours are the hard values.
  for (float b : borders) {
    values.push_back(b);
    values.push_back(std::nextafter(b, -INFINITY));
    values.push_back(std::nextafter(b, INFINITY));
  }
  values.insert(values.end(), {0.0f, -0.0f, 1e-45f, -1e-45f, 3.4e38f, -3.4e38f});
  const Bucketizer bucketizer(borders);
  std::vector<uint8_t> codes(values.size());
  bucketizer.bucketize(values, codes);
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(codes[i], expected_code(borders, values[i]))
        << what << ": value " << values[i] << " (index " << i << ")";
  }
}

std::vector<float> normal(size_t n, float mean, float stddev, uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::normal_distribution<float> distribution(mean, stddev);
  std::vector<float> out(n);
  for (auto& v : out) v = distribution(generator);
  return out;
}

TEST(Bucketizer, CountsTheBordersBelowLikeABinarySearch) {
  check(normal(255, 0, 1, 1), normal(20000, 0, 1.5f, 2), "normal");
  check(normal(255, 1000, 0.001f, 3), normal(20000, 1000, 0.002f, 4), "offset 1000");
  check(normal(255, -5e-30f, 1e-33f, 5), normal(2000, -5e-30f, 2e-33f, 6), "tiny");

  std::vector<float> ties(200, 0.0f);  // mostly zeros, as quantiles of ReLU outputs
  for (int i = 0; i < 55; ++i) ties.push_back(0.01f * static_cast<float>(i + 1));
  auto values = normal(5000, 0, 0.3f, 7);
  for (size_t i = 0; i < values.size(); i += 3) values[i] = 0.0f;
  check(ties, values, "ties at zero");
  check(std::vector<float>(255, -0.0f), values, "negative zeros");
  check(std::vector<float>(255, 2.5f), normal(1000, 2.5f, 1, 8), "all equal");
  check({}, normal(100, 0, 1, 9), "no borders");
  check({7.0f}, normal(100, 7, 1, 10), "one border");

  // A crowd: 100 distinct borders within a few ulps of 1, then a spread.
  std::vector<float> crowd;
  float b = 1.0f;
  for (int i = 0; i < 100; ++i) crowd.push_back(b = std::nextafter(b, 2.0f));
  for (int i = 0; i < 155; ++i) crowd.push_back(2.0f + static_cast<float>(i));
  auto near_one = normal(5000, 1, 1e-6f, 11);
  auto wide = normal(5000, 50, 60, 12);
  near_one.insert(near_one.end(), wide.begin(), wide.end());
  check(crowd, near_one, "crowded cell");

  // Magnitudes across the whole float range, and subnormals.
  std::vector<float> extremes = {-3e38f, -1e30f, -1.0f, -1e-30f, -1e-40f, 0.0f,
                                 1e-42f, 1e-38f, 1e-10f, 1.0f,    1e20f,   3.3e38f};
  std::vector<float> spread;
  std::mt19937_64 generator(13);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 20000; ++i) {
    float v;
    uint32_t u = bits(generator);
    std::memcpy(&v, &u, 4);
    if (std::isfinite(v)) spread.push_back(v);
  }
  check(extremes, spread, "extremes");
  check(std::vector<float>(spread.begin(), spread.begin() + 255), spread, "random bit patterns");
}

}  // namespace
}  // namespace hm::detail
