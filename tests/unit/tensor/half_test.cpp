#include "hm/tensor/half.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "hm/tensor/npy.h"
#include "tensor_test_util.h"

namespace hm {
namespace {

bool is_half_nan(uint16_t bits) { return (bits & 0x7c00) == 0x7c00 && (bits & 0x3ff) != 0; }

TEST(Half, KnownValues) {
  EXPECT_EQ(float_to_half(0.0f), 0x0000);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(65519.0f), 0x7bff);   // below the midpoint to infinity
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);   // the midpoint ties to even: infinity
  EXPECT_EQ(float_to_half(1e10f), 0x7c00);
  EXPECT_EQ(float_to_half(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // tie between 0 and 2^-24: even
  EXPECT_EQ(float_to_half(std::ldexp(3.0f, -26)), 0x0001);  // 0.75 x 2^-24 rounds up
  EXPECT_EQ(float_to_half(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 x 2^-24 ties to even (2)
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);       // tie: down to even
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);   // tie: up to even
  EXPECT_EQ(float_to_half(std::ldexp(1023.0f, -24) + std::ldexp(1.0f, -25)), 0x0400);
  EXPECT_TRUE(is_half_nan(float_to_half(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(is_half_nan(float_to_half(std::bit_cast<float>(0x7f800001u))));  // signalling

  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(half_to_float(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(half_to_float(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
  EXPECT_EQ(half_to_float(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
}

TEST(Half, EveryHalfRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    auto h = static_cast<uint16_t>(bits);
    float f = half_to_float(h);
    if (is_half_nan(h)) {
      ASSERT_TRUE(std::isnan(f)) << bits;
      ASSERT_TRUE(is_half_nan(float_to_half(f))) << bits;
    } else {
      ASSERT_EQ(float_to_half(f), h) << bits;
    }
  }
}

// numpy's float32 -> float16 cast as the oracle, over random bit patterns.
TEST(Half, MatchesNumpyOnRandomFloats) {
  test::TempDir dir;
  HostTensor input = HostTensor::zeros(DType::Float32, {50000});
  auto* values = reinterpret_cast<uint32_t*>(input.mutable_data());
  std::mt19937 random(42);
  for (size_t i = 0; i < 50000; ++i) {
    // Half the values near half's range (exponents 100..150), half anywhere.
    uint32_t bits = random();
    if (i % 2 == 0) bits = (bits & 0x807fffff) | ((100 + bits % 51) << 23);
    values[i] = bits;
  }
  test::write_file(dir.file("in.npy"), test::bytes_of(encode_npy(input)));
  auto result = test::run_python(dir, R"(
import sys, numpy as np
d = sys.argv[1]
with np.errstate(all='ignore'):
    np.save(d + '/out.npy', np.load(d + '/in.npy').astype(np.float16))
print('ok')
)");
  ASSERT_EQ(result.status, 0);
  HostTensor expected = decode_npy(test::bytes_of(test::read_whole(dir.file("out.npy")))).tensor;
  ASSERT_EQ(expected.dtype, DType::Float16);
  auto halves = expected.as<uint16_t>();
  auto floats = input.as<float>();
  ASSERT_EQ(halves.size(), floats.size());
  for (size_t i = 0; i < floats.size(); ++i) {
    uint16_t ours = float_to_half(floats[i]);
    if (std::isnan(floats[i])) {
      ASSERT_TRUE(is_half_nan(ours) && is_half_nan(halves[i])) << i;
    } else {
      ASSERT_EQ(ours, halves[i]) << "value " << floats[i];
    }
  }
}

// Nearest bfloat16 by arithmetic, ties to the even bit pattern.
uint16_t reference_bfloat16(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  auto low = static_cast<uint16_t>(bits >> 16);
  auto high = static_cast<uint16_t>(low + 1);
  double below = std::fabs(static_cast<double>(value) - bfloat16_to_float(low));
  double above = std::fabs(static_cast<double>(bfloat16_to_float(high)) - value);
  if ((bits & 0xffff) == 0) return low;
  if (std::isinf(bfloat16_to_float(high))) {
    // Rounding up to infinity happens past the midpoint to the next power.
    double midpoint = std::ldexp(2.0 - std::ldexp(1.0, -8), 127);
    return std::fabs(static_cast<double>(value)) >= midpoint ? high : low;
  }
  if (below < above) return low;
  if (above < below) return high;
  return (low & 1) ? high : low;
}

TEST(Half, BFloat16MatchesReference) {
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3f80);
  EXPECT_EQ(bfloat16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(float_to_bfloat16(std::numeric_limits<float>::max()), 0x7f80);  // rounds to inf
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie: even
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie: even
  EXPECT_EQ(float_to_bfloat16(std::bit_cast<float>(0x00000001u)), 0x0000);  // tiny subnormal
  EXPECT_EQ((float_to_bfloat16(std::numeric_limits<float>::quiet_NaN()) & 0x7fc0), 0x7fc0);
  EXPECT_EQ((float_to_bfloat16(std::bit_cast<float>(0x7f800001u)) & 0x7fc0), 0x7fc0);
  std::mt19937 random(7);
  for (int i = 0; i < 200000; ++i) {
    float value = std::bit_cast<float>(static_cast<uint32_t>(random()));
    if (std::isnan(value)) continue;
    ASSERT_EQ(float_to_bfloat16(value), reference_bfloat16(value)) << value;
  }
}

TEST(Half, ClampedBulkConversion) {
  std::vector<float> in = {1e6f, -1e6f, std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::quiet_NaN(), 0.5f, 65519.0f};
  std::vector<uint16_t> out(in.size());
  floats_to_halves_clamped(in, out);
  EXPECT_EQ(out[0], 0x7bff);
  EXPECT_EQ(out[1], 0xfbff);
  EXPECT_EQ(out[2], 0x7bff);
  EXPECT_EQ(out[3], 0xfbff);
  EXPECT_TRUE(is_half_nan(out[4]));
  EXPECT_EQ(out[5], 0x3800);
  EXPECT_EQ(out[6], 0x7bff);
  std::vector<float> back(out.size());
  halves_to_floats(out, back);
  EXPECT_EQ(back[0], 65504.0f);
  EXPECT_EQ(back[5], 0.5f);
  EXPECT_TRUE(std::isnan(back[4]));
}

}  // namespace
}  // namespace hm
