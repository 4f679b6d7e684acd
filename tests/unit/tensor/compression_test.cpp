// The wire's compression kinds: names, compression_for's rules, round trips
// of every kind, dtype and shape, hivemind's tolerances, and the encoded
// layouts byte by byte. Refusals are in compression_refusals_test.cpp, the
// numpy oracle in compression_numpy_test.cpp.
#include "hm/tensor/compression.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "compression_test_util.h"
#include "hm/tensor/half.h"
#include "tensor_test_util.h"

namespace hm {
namespace {

using test::error_of;
using test::floats_of;
using test::randn;

constexpr wire::Compression kLossy[] = {wire::Compression::MEANSTD16, wire::Compression::UNIFORM8,
                                        wire::Compression::QUANTILE8,
                                        wire::Compression::BLOCKWISE8};
constexpr DType kFloating[] = {DType::Float32, DType::Float16, DType::BFloat16, DType::Float64};

TEST(Compression, KindsInWireOrderWithNames) {
  auto kinds = compression_kinds();
  ASSERT_EQ(kinds.size(), 6u);
  const char* names[] = {"none", "float16", "meanstd16", "uniform8", "quantile8", "blockwise8"};
  for (size_t i = 0; i < kinds.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(kinds[i]), i);
    EXPECT_EQ(compression_name(kinds[i]), names[i]);
    EXPECT_EQ(compression_from_name(names[i]), kinds[i]);
  }
  EXPECT_EQ(compression_name(static_cast<wire::Compression>(9)), "unknown");
  EXPECT_EQ(error_of([] { compression_from_name("x"); }),
            "unknown compression 'x' (choose none, float16, meanstd16, uniform8, quantile8 or "
            "blockwise8)");
  EXPECT_EQ(error_of([] { compression_from_name("Float16"); }),
            "unknown compression 'Float16' (choose none, float16, meanstd16, uniform8, quantile8 "
            "or blockwise8)");
  EXPECT_FALSE(is_lossy_8bit(wire::Compression::NONE));
  EXPECT_FALSE(is_lossy_8bit(wire::Compression::FLOAT16));
  EXPECT_FALSE(is_lossy_8bit(wire::Compression::MEANSTD16));
  EXPECT_TRUE(is_lossy_8bit(wire::Compression::UNIFORM8));
  EXPECT_TRUE(is_lossy_8bit(wire::Compression::QUANTILE8));
  EXPECT_TRUE(is_lossy_8bit(wire::Compression::BLOCKWISE8));
}

TEST(Compression, WhatATensorIsSentAs) {
  const auto big = randn(DType::Float32, {64, 64});
  CompressionPolicy policy{wire::Compression::UNIFORM8, 0};
  EXPECT_EQ(compression_for(big, policy), wire::Compression::UNIFORM8);
  EXPECT_EQ(compression_for(HostTensor::zeros(DType::Int32, {64}), policy),
            wire::Compression::NONE);
  EXPECT_EQ(compression_for(HostTensor::zeros(DType::Bool, {64}), policy),
            wire::Compression::NONE);
  EXPECT_EQ(compression_for(randn(DType::BFloat16, {8}), policy), wire::Compression::UNIFORM8);

  policy.min_bytes = big.nbytes() + 1;  // SizeAdaptiveCompression: too small to bother
  EXPECT_EQ(compression_for(big, policy), wire::Compression::NONE);
  policy.min_bytes = big.nbytes();
  EXPECT_EQ(compression_for(big, policy), wire::Compression::UNIFORM8);

  CompressionPolicy half{wire::Compression::FLOAT16, 0};
  EXPECT_EQ(compression_for(big, half), wire::Compression::FLOAT16);
  EXPECT_EQ(compression_for(randn(DType::Float64, {8}), half), wire::Compression::NONE);
  EXPECT_EQ(compression_for(randn(DType::Float16, {8}), half), wire::Compression::NONE);
  EXPECT_EQ(compression_for(big, CompressionPolicy{}), wire::Compression::NONE);

  // NaN and Inf: float16 carries them (NaN stays NaN), the lossy kinds cannot.
  auto poisoned = test::tensor_of<float>(DType::Float32, {3}, {1.0f, NAN, 2.0f});
  auto infinite =
      test::tensor_of<float>(DType::Float32, {2}, {1.0f, -std::numeric_limits<float>::infinity()});
  EXPECT_EQ(compression_for(poisoned, half), wire::Compression::FLOAT16);
  for (auto kind : kLossy) {
    EXPECT_EQ(compression_for(poisoned, {kind, 0}), wire::Compression::NONE);
    EXPECT_EQ(compression_for(infinite, {kind, 0}), wire::Compression::NONE);
    EXPECT_EQ(compression_for(big, {kind, 0}), kind);
  }
  // A float64 value that float32 cannot hold.
  auto huge = test::tensor_of<double>(DType::Float64, {2}, {1.0, 1e300});
  EXPECT_EQ(compression_for(huge, policy), wire::Compression::NONE);
  EXPECT_EQ(compression_for(test::tensor_of<double>(DType::Float64, {1}, {1e30}),
                            {wire::Compression::UNIFORM8, 0}),
            wire::Compression::UNIFORM8);
}

TEST(Compression, SizesAreTheLayoutsOfTensorCapnp) {
  const auto t = randn(DType::Float32, {3, 5000});
  EXPECT_EQ(compressed_size(t, wire::Compression::NONE), 60000u);
  EXPECT_EQ(compressed_size(t, wire::Compression::FLOAT16), 30000u);
  EXPECT_EQ(compressed_size(t, wire::Compression::MEANSTD16), 30000u + 3 * 8);
  EXPECT_EQ(compressed_size(t, wire::Compression::UNIFORM8), 8u + 1024 + 15000);
  EXPECT_EQ(compressed_size(t, wire::Compression::QUANTILE8), 8u + 1024 + 15000);
  EXPECT_EQ(compressed_size(t, wire::Compression::BLOCKWISE8), 16u + 4 * 4 + 1024 + 15000);
  // A scalar is one row; a [3, 0] tensor has three empty rows.
  EXPECT_EQ(compressed_size(randn(DType::Float32, {}), wire::Compression::MEANSTD16), 2u + 8);
  EXPECT_EQ(compressed_size(HostTensor::zeros(DType::Float32, {3, 0}),
                            wire::Compression::MEANSTD16),
            24u);
  EXPECT_EQ(compressed_size(HostTensor::zeros(DType::Float32, {0, 3}),
                            wire::Compression::BLOCKWISE8),
            16u + 1024);
  EXPECT_EQ(compressed_size(HostTensor::zeros(DType::Int64, {4}), wire::Compression::NONE), 32u);
}

// The largest |decoded - original| a kind allows for values of spread
// `spread` (blockwise8: the code's coarsest step near 1, 0.014 x absmax;
// uniform8 and quantile8: their outer buckets reach from 3 sigma or the
// 1/256 quantiles out to the extremes).
double tolerance(wire::Compression kind, DType dtype, double spread) {
  double dtype_error = dtype == DType::BFloat16 ? 1.0 / 128 : dtype == DType::Float16 ? 1e-3 : 0;
  double kind_error = kind == wire::Compression::MEANSTD16    ? 2e-3
                      : kind == wire::Compression::BLOCKWISE8 ? 0.1
                                                              : 0.3;
  return (dtype_error + kind_error) * spread + 1e-6;
}

TEST(Compression, RoundTripsEveryLossyKindDtypeAndShape) {
  const std::vector<std::vector<int64_t>> shapes = {{}, {0, 3}, {3, 0}, {1}, {7},
                                                    {5000},  // not a multiple of 4096
                                                    {2, 3, 4}, {3, 4097}, {2, 64, 65}};
  for (auto kind : kLossy) {
    for (auto dtype : kFloating) {
      for (const auto& shape : shapes) {
        SCOPED_TRACE(std::string(compression_name(kind)) + " " + std::string(dtype_name(dtype)) +
                     shape_string(shape));
        const auto tensor = randn(dtype, shape, 7);
        std::vector<std::byte> wire(compressed_size(tensor, kind));
        compress_into(tensor, kind, wire);
        const auto decoded = decompress(dtype, shape, kind, wire);
        EXPECT_EQ(decoded.dtype, dtype);
        EXPECT_EQ(decoded.shape, shape);
        ASSERT_EQ(decoded.nbytes(), tensor.nbytes());
        const auto a = floats_of(tensor), b = floats_of(decoded);
        double worst = 0;
        for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
        EXPECT_LE(worst, tolerance(kind, dtype, 4.0));
        // Into a misaligned output: the same values.
        std::vector<std::byte> shifted(decoded.nbytes() + 1);
        decompress_into(dtype, shape, kind, wire, std::span(shifted).subspan(1));
        EXPECT_EQ(std::memcmp(shifted.data() + 1, decoded.data(), decoded.nbytes()), 0);
      }
    }
  }
}

TEST(Compression, NoneAndFloat16RoundTrip) {
  for (const auto& tensor : test::sample_tensors()) {
    std::vector<std::byte> wire(compressed_size(tensor, wire::Compression::NONE));
    compress_into(tensor, wire::Compression::NONE, wire);
    EXPECT_TRUE(test::same_tensor(
        decompress(tensor.dtype, tensor.shape, wire::Compression::NONE, wire), tensor));
  }
  const auto t = test::tensor_of<float>(DType::Float32, {4}, {1.5f, -1e6f, NAN, 0.1f});
  std::vector<std::byte> wire(compressed_size(t, wire::Compression::FLOAT16));
  compress_into(t, wire::Compression::FLOAT16, wire);
  const auto decoded = decompress(DType::Float32, {4}, wire::Compression::FLOAT16, wire);
  const auto back = decoded.as<float>();
  EXPECT_EQ(back[0], 1.5f);
  EXPECT_EQ(back[1], -65504.0f);
  EXPECT_TRUE(std::isnan(back[2]));
  EXPECT_EQ(back[3], half_to_float(float_to_half(0.1f)));
}

// hivemind's test_compression tolerances, on randn 128 x 128 x 64.
TEST(Compression, HivemindTolerancesOnRandn) {
  const auto tensor = randn(DType::Float32, {128, 128, 64}, 1);
  for (auto kind : compression_kinds()) {
    std::vector<std::byte> wire(compressed_size(tensor, kind));
    compress_into(tensor, kind, wire);
    const auto decoded = decompress(DType::Float32, tensor.shape, kind, wire);
    const double mse = test::mean_squared_error(tensor, decoded);
    const double limit = kind == wire::Compression::NONE ? 0
                         : is_lossy_8bit(kind)           ? 8e-4
                                                         : 5e-8;
    EXPECT_LE(mse, limit) << compression_name(kind);
    if (kind == wire::Compression::NONE) continue;
    // Zeros stay finite; blockwise8 (a zero block), meanstd16 (std clamped to
    // FLT_EPSILON) and the codebook kinds (one bucket) give exactly 0.
    const auto zeros = HostTensor::zeros(DType::Float32, {128, 128, 64});
    compress_into(zeros, kind, wire);
    const auto back = decompress(DType::Float32, zeros.shape, kind, wire);
    for (float v : back.as<float>()) ASSERT_EQ(v, 0.0f) << compression_name(kind);
  }
}

TEST(Compression, ConstantAndSingleValueTensorsComeBackExactly) {
  for (auto kind : kLossy) {
    for (int64_t n : {1, 3, 5000}) {
      auto t = HostTensor::uninitialized(DType::Float32, {n});
      std::fill_n(reinterpret_cast<float*>(t.mutable_data()), n, -3.25f);
      std::vector<std::byte> wire(compressed_size(t, kind));
      compress_into(t, kind, wire);
      const auto back = decompress(DType::Float32, {n}, kind, wire);
      const float expected = kind == wire::Compression::BLOCKWISE8 ? -3.25f * 0.99296874f : -3.25f;
      for (float v : back.as<float>()) {
        ASSERT_NEAR(v, expected, 1e-6f) << compression_name(kind) << " n=" << n;
      }
    }
  }
}

TEST(Compression, Uniform8Layout) {
  const auto t = randn(DType::Float32, {4, 4}, 3);
  std::vector<std::byte> wire(compressed_size(t, wire::Compression::UNIFORM8));
  compress_into(t, wire::Compression::UNIFORM8, wire);
  EXPECT_EQ(test::i64_at(wire, 0), 256);
  // Codes per hivemind: round((x - mean) / (6 sigma_unbiased / 256)) + 128.
  const auto x = t.as<float>();
  double mean = 0;
  for (float v : x) mean += v;
  mean /= 16;
  double ss = 0;
  for (float v : x) {
    const double d = static_cast<double>(v) - static_cast<float>(mean);
    ss += d * d;
  }
  const float scale = static_cast<float>(6 * std::sqrt(ss / 15) / 256);
  for (size_t i = 0; i < 16; ++i) {
    const float v = (x[i] - static_cast<float>(mean)) * (1.0f / scale);
    const auto code = std::clamp(static_cast<int>(std::nearbyint(v)) + 128, 0, 255);
    EXPECT_EQ(static_cast<int>(wire[8 + 1024 + i]), code) << i;
    // The codebook entry of a code is the mean of the values that have it.
    float sum = 0;
    int count = 0;
    for (size_t j = 0; j < 16; ++j) {
      if (wire[8 + 1024 + j] == wire[8 + 1024 + i]) sum += x[j], ++count;
    }
    EXPECT_NEAR(test::f32_at(wire, 8 + 4 * static_cast<size_t>(code)), sum / count, 1e-6f);
  }
  EXPECT_EQ(test::f32_at(wire, 8 + 4 * 255), 0.0f);  // a code no value has

  // One value: code 128, codebook[128] = the value.
  const auto one = test::tensor_of<float>(DType::Float32, {1}, {0.7f});
  compress_into(one, wire::Compression::UNIFORM8, std::span(wire).first(8 + 1024 + 1));
  EXPECT_EQ(static_cast<int>(wire[8 + 1024]), 128);
  EXPECT_EQ(test::f32_at(wire, 8 + 4 * 128), 0.7f);
}

TEST(Compression, Quantile8CodesCountTheBordersBelow) {
  // Up to 65536 values the borders are the exact quantiles: recompute them
  // and the codes here (numpy.quantile's linear interpolation).
  for (int64_t n : {2, 10, 1000, 65536}) {
    auto t = randn(DType::Float32, {n}, static_cast<uint64_t>(n));
    auto* x = reinterpret_cast<float*>(t.mutable_data());
    for (int64_t i = 0; i < n; i += 7) x[i] = 0.5f;  // ties with and among the borders
    std::vector<float> sorted(x, x + n);
    std::sort(sorted.begin(), sorted.end());
    std::vector<float> borders;
    for (size_t k = 1; k <= 255; ++k) {
      const size_t scaled = k * static_cast<size_t>(n - 1);
      const size_t below = scaled / 256;
      const double a = sorted[below], b = sorted[std::min(below + 1, sorted.size() - 1)];
      borders.push_back(static_cast<float>(a + (b - a) * static_cast<double>(scaled % 256) / 256));
    }
    std::vector<std::byte> wire(compressed_size(t, wire::Compression::QUANTILE8));
    compress_into(t, wire::Compression::QUANTILE8, wire);
    for (int64_t i = 0; i < n; ++i) {
      const auto code = std::lower_bound(borders.begin(), borders.end(), x[i]) - borders.begin();
      ASSERT_EQ(static_cast<int>(wire[8 + 1024 + static_cast<size_t>(i)]), code)
          << "n=" << n << " i=" << i;
    }
  }
}

TEST(Compression, Blockwise8LayoutAndCode) {
  auto t = randn(DType::Float32, {10000}, 5);
  auto* x = reinterpret_cast<float*>(t.mutable_data());
  std::fill(x + 4096, x + 8192, 0.0f);  // a block of zeros
  std::vector<std::byte> wire(compressed_size(t, wire::Compression::BLOCKWISE8));
  compress_into(t, wire::Compression::BLOCKWISE8, wire);
  EXPECT_EQ(test::i64_at(wire, 0), 3);
  EXPECT_EQ(test::i64_at(wire, 8), 256);
  for (size_t b = 0; b < 3; ++b) {
    float largest = 0;
    for (size_t i = b * 4096; i < std::min<size_t>(10000, (b + 1) * 4096); ++i) {
      largest = std::max(largest, std::fabs(x[i]));
    }
    EXPECT_EQ(test::f32_at(wire, 16 + 4 * b), largest);
  }
  // bitsandbytes' dynamic map as torch 1.13 builds it, bit for bit: some
  // entries, and the sum of all 256 bit patterns.
  std::vector<uint32_t> code(256);
  std::memcpy(code.data(), wire.data() + 16 + 12, 1024);
  EXPECT_EQ(code[0], 0xbf7e3333u);
  EXPECT_EQ(code[1], 0xbf7a9999u);
  EXPECT_EQ(code[63], 0xbddb3334u);
  EXPECT_EQ(code[64], 0xbdc9eb85u);
  EXPECT_EQ(code[100], 0xbbf4bc6au);
  EXPECT_EQ(code[126], 0xb513a3b7u);
  EXPECT_EQ(code[127], 0u);
  EXPECT_EQ(code[200], 0x3e6f3334u);
  EXPECT_EQ(code[255], 0x3f800000u);
  uint64_t sum = 0;
  for (uint32_t bits : code) sum += bits;
  EXPECT_EQ(sum, 535306620526u);
  // Each code is the nearest entry to x / absmax; the zero block decodes to 0.
  const size_t codes_at = 16 + 12 + 1024;
  for (size_t i = 0; i < 10000; ++i) {
    const size_t b = i / 4096;
    const float absmax = test::f32_at(wire, 16 + 4 * b);
    const auto c = static_cast<size_t>(wire[codes_at + i]);
    if (absmax == 0) {
      ASSERT_EQ(c, 127u);
      continue;
    }
    const float v = x[i] / absmax;
    const float chosen = std::fabs(v - std::bit_cast<float>(code[c]));
    for (uint32_t other : code) ASSERT_LE(chosen, std::fabs(v - std::bit_cast<float>(other)) + 1e-7f);
  }
  const auto back = decompress(DType::Float32, {10000}, wire::Compression::BLOCKWISE8, wire);
  for (size_t i = 4096; i < 8192; ++i) ASSERT_EQ(back.as<float>()[i], 0.0f);
}

TEST(Compression, Meanstd16Layout) {
  const auto t = test::tensor_of<float>(DType::Float32, {2, 3}, {1, 2, 3, 10, 10, 10});
  std::vector<std::byte> wire(compressed_size(t, wire::Compression::MEANSTD16));
  ASSERT_EQ(wire.size(), 12u + 16);
  compress_into(t, wire::Compression::MEANSTD16, wire);
  const float std0 = std::sqrt(2.0f / 3);
  EXPECT_EQ(test::f32_at(wire, 12), 2.0f);   // mean of row 0
  EXPECT_EQ(test::f32_at(wire, 16), 10.0f);  // mean of row 1
  EXPECT_FLOAT_EQ(test::f32_at(wire, 20), std0);
  EXPECT_EQ(test::f32_at(wire, 24), std::numeric_limits<float>::epsilon());  // a constant row
  uint16_t first;
  std::memcpy(&first, wire.data(), 2);
  EXPECT_EQ(first, float_to_half(-1 / std0));
  const auto back = decompress(DType::Float32, {2, 3}, wire::Compression::MEANSTD16, wire);
  EXPECT_NEAR(back.as<float>()[0], 1.0f, 1e-3f);
  EXPECT_EQ(back.as<float>()[4], 10.0f);
}

TEST(Compression, OutliersAndExtremesStayFinite) {
  auto t = randn(DType::Float32, {5000}, 9);
  auto* x = reinterpret_cast<float*>(t.mutable_data());
  x[17] = 3e38f;
  x[18] = -3e38f;
  x[4500] = 1e-40f;  // subnormal
  for (auto kind : kLossy) {
    std::vector<std::byte> wire(compressed_size(t, kind));
    compress_into(t, kind, wire);
    const auto back = decompress(DType::Float32, {5000}, kind, wire);
    for (float v : back.as<float>()) ASSERT_TRUE(std::isfinite(v)) << compression_name(kind);
  }
  // Values all within 1e-3 of 1000: the 8-bit kinds still resolve them.
  for (int i = 0; i < 5000; ++i) x[i] = 1000.0f + 1e-3f * std::sin(static_cast<float>(i));
  for (auto kind : {wire::Compression::UNIFORM8, wire::Compression::QUANTILE8}) {
    std::vector<std::byte> wire(compressed_size(t, kind));
    compress_into(t, kind, wire);
    const auto back = decompress(DType::Float32, {5000}, kind, wire);
    for (int i = 0; i < 5000; ++i) ASSERT_NEAR(back.as<float>()[i], x[i], 1e-4f);
  }
}

}  // namespace
}  // namespace hm
