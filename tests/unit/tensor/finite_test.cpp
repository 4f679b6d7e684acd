// find_non_finite / require_finite: every floating dtype, NaN vs Inf, the
// first bad index across the fast pass's block boundaries, and integers.
#include "hm/tensor/finite.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "hm/base/error.h"
#include "hm/tensor/half.h"

namespace hm {
namespace {

template <typename T>
HostTensor tensor_of(DType dtype, const std::vector<T>& values) {
  std::vector<std::byte> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return HostTensor::adopt(dtype, {static_cast<int64_t>(values.size())}, std::move(bytes));
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(FiniteTest, FiniteFloat32PassesIncludingExtremes) {
  std::vector<float> values(10000, 1.5f);
  values[3] = std::numeric_limits<float>::max();
  values[4] = -std::numeric_limits<float>::max();
  values[5] = std::numeric_limits<float>::denorm_min();
  values[6] = -0.0f;
  EXPECT_FALSE(find_non_finite(tensor_of(DType::Float32, values)));
}

TEST(FiniteTest, FindsTheFirstBadFloat32AcrossBlocks) {
  for (size_t at : {size_t{0}, size_t{17}, size_t{4095}, size_t{4096}, size_t{9999}}) {
    std::vector<float> values(10000, 0.25f);
    values[at] = -kInf;
    if (at + 1 < values.size()) values[at + 1] = kNaN;  // a later one is not reported
    auto bad = find_non_finite(tensor_of(DType::Float32, values));
    ASSERT_TRUE(bad) << at;
    EXPECT_EQ(bad->index, static_cast<int64_t>(at));
    EXPECT_FALSE(bad->nan);
    EXPECT_STREQ(bad->kind(), "Inf");
  }
}

TEST(FiniteTest, Float64) {
  std::vector<double> values(100, 1e300);
  EXPECT_FALSE(find_non_finite(tensor_of(DType::Float64, values)));
  values[42] = std::nan("");
  auto bad = find_non_finite(tensor_of(DType::Float64, values));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->index, 42);
  EXPECT_TRUE(bad->nan);
}

TEST(FiniteTest, Float16AndBFloat16) {
  std::vector<uint16_t> half(50, float_to_half(kHalfMax));
  EXPECT_FALSE(find_non_finite(tensor_of(DType::Float16, half)));
  half[7] = float_to_half(kInf);
  half[9] = float_to_half(kNaN);
  auto bad = find_non_finite(tensor_of(DType::Float16, half));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->index, 7);
  EXPECT_FALSE(bad->nan);

  std::vector<uint16_t> bf16(50, float_to_bfloat16(3e38f));
  EXPECT_FALSE(find_non_finite(tensor_of(DType::BFloat16, bf16)));
  bf16[30] = float_to_bfloat16(kNaN);
  bad = find_non_finite(tensor_of(DType::BFloat16, bf16));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->index, 30);
  EXPECT_TRUE(bad->nan);
}

TEST(FiniteTest, IntegersAreNeverNonFinite) {
  // 0x7f800000 is an Inf bit pattern as float32 but an ordinary int32.
  std::vector<int32_t> ints(8, 0x7f800000);
  EXPECT_FALSE(find_non_finite(tensor_of(DType::Int32, ints)));
}

// The copy a server makes of each request tensor, scanned as it goes.
TEST(FiniteTest, CopyFindingNonFiniteCopiesAndFindsAcrossBlocks) {
  std::vector<float> values(20000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f;
  const auto tensor = tensor_of(DType::Float32, values);
  auto [copy, bad] = copy_finding_non_finite(tensor);
  EXPECT_FALSE(bad);
  ASSERT_EQ(copy.nbytes(), tensor.nbytes());
  EXPECT_NE(copy.data(), tensor.data());
  EXPECT_EQ(std::memcmp(copy.data(), tensor.data(), tensor.nbytes()), 0);
  EXPECT_EQ(copy.shape, tensor.shape);
  for (size_t at : {size_t{0}, size_t{4095}, size_t{4096}, size_t{12345}, size_t{19999}}) {
    auto poisoned = values;
    poisoned[at] = kNaN;
    if (at + 1 < poisoned.size()) poisoned[at + 1] = kInf;
    auto [_, found] = copy_finding_non_finite(tensor_of(DType::Float32, poisoned));
    ASSERT_TRUE(found) << at;
    EXPECT_EQ(found->index, static_cast<int64_t>(at));
    EXPECT_TRUE(found->nan);
  }
  std::vector<double> doubles(5000, 1.0);
  doubles[4321] = -std::numeric_limits<double>::infinity();
  auto [copy64, bad64] = copy_finding_non_finite(tensor_of(DType::Float64, doubles));
  ASSERT_TRUE(bad64);
  EXPECT_EQ(bad64->index, 4321);
  EXPECT_FALSE(bad64->nan);
  // Integers are copied whole, never reported.
  const std::vector<int32_t> ints{0x7f800000, -1, 7};
  auto [int_copy, int_bad] = copy_finding_non_finite(tensor_of(DType::Int32, ints));
  EXPECT_FALSE(int_bad);
  EXPECT_EQ(std::memcmp(int_copy.data(), ints.data(), sizeof(int32_t) * 3), 0);
}

TEST(FiniteTest, RequireFiniteNamesTensorKindAndElement) {
  std::vector<float> good(4, 1.0f), bad(20, 1.0f);
  bad[17] = kNaN;
  std::vector<HostTensor> tensors{tensor_of(DType::Float32, good),
                                  tensor_of(DType::Float32, bad)};
  try {
    require_finite(tensors, "forward inputs", "--reject-nonfinite");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "forward inputs: tensor 1 has a non-finite value (NaN) at element 17; "
                 "refused (--reject-nonfinite)");
  }
  tensors.pop_back();
  EXPECT_NO_THROW(require_finite(tensors, "forward inputs", "--reject-nonfinite"));
}

}  // namespace
}  // namespace hm
