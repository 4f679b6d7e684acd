#include "hm/tensor/host_tensor.h"

#include <gtest/gtest.h>

#include <cstring>

#include "hm/base/error.h"
#include "tensor_test_util.h"

namespace hm {
namespace {

using test::error_of;

TEST(HostTensor, DTypeTableIsComplete) {
  const std::vector<std::tuple<DType, std::string_view, size_t, bool>> table = {
      {DType::Float32, "float32", 4, true}, {DType::Float16, "float16", 2, true},
      {DType::BFloat16, "bfloat16", 2, true}, {DType::Float64, "float64", 8, true},
      {DType::Int64, "int64", 8, false},     {DType::Int32, "int32", 4, false},
      {DType::Int16, "int16", 2, false},     {DType::Int8, "int8", 1, false},
      {DType::UInt8, "uint8", 1, false},     {DType::Bool, "bool", 1, false},
  };
  ASSERT_EQ(table.size(), static_cast<size_t>(kDTypeCount));
  for (const auto& [dtype, name, size, floating] : table) {
    EXPECT_EQ(dtype_name(dtype), name);
    EXPECT_EQ(dtype_size(dtype), size) << name;
    EXPECT_EQ(is_floating(dtype), floating) << name;
    EXPECT_EQ(dtype_from_name(name), dtype);
  }
}

TEST(HostTensor, DTypeAliasesAndUnknownNames) {
  EXPECT_EQ(dtype_from_name("float"), DType::Float32);
  EXPECT_EQ(dtype_from_name("half"), DType::Float16);
  EXPECT_EQ(dtype_from_name("double"), DType::Float64);
  EXPECT_EQ(dtype_from_name("long"), DType::Int64);
  EXPECT_EQ(dtype_from_name("int"), DType::Int32);
  EXPECT_NE(error_of([] { dtype_from_name("complex64"); }).find("unknown dtype 'complex64'"),
            std::string::npos);
  EXPECT_THROW(dtype_from_name("Float32"), Error);
  EXPECT_THROW(dtype_from_name(""), Error);
}

TEST(HostTensor, ShapeString) {
  EXPECT_EQ(shape_string(std::vector<int64_t>{}), "[]");
  EXPECT_EQ(shape_string(std::vector<int64_t>{7}), "[7]");
  EXPECT_EQ(shape_string(std::vector<int64_t>{2, 3}), "[2, 3]");
}

TEST(HostTensor, CheckedNumel) {
  EXPECT_EQ(checked_numel(std::vector<int64_t>{}), 1);
  EXPECT_EQ(checked_numel(std::vector<int64_t>{2, 3, 4}), 24);
  EXPECT_EQ(checked_numel(std::vector<int64_t>{0, 5}), 0);
  EXPECT_EQ(checked_numel(std::vector<int64_t>{4, 4}, 16), 16);
  EXPECT_EQ(error_of([] { checked_numel(std::vector<int64_t>{2, -3}); }),
            "negative dimension -3 in shape [2, -3]");
  EXPECT_EQ(error_of([] { checked_numel(std::vector<int64_t>{4, 5}, 16); }),
            "shape [4, 5] has more than 16 elements");
  // Overflowing int64 is caught, not wrapped.
  EXPECT_THROW(checked_numel(std::vector<int64_t>{int64_t{1} << 32, int64_t{1} << 32, 4}), Error);
  // A zero dimension does not excuse a huge one: strides must still fit.
  EXPECT_THROW(checked_numel(std::vector<int64_t>{0, int64_t{1} << 62, int64_t{1} << 62}), Error);
}

TEST(HostTensor, ZerosCopyOfAdopt) {
  HostTensor zeros = HostTensor::zeros(DType::Int32, {2, 3});
  EXPECT_EQ(zeros.numel(), 6);
  EXPECT_EQ(zeros.nbytes(), 24u);
  for (int32_t v : zeros.as<int32_t>()) EXPECT_EQ(v, 0);
  EXPECT_EQ(describe(zeros), "int32[2, 3]");

  std::vector<float> values = {1, 2, 3};
  HostTensor copy = HostTensor::copy_of(DType::Float32, {3}, std::as_bytes(std::span(values)));
  values[0] = 99;  // the copy is independent
  EXPECT_EQ(copy.as<float>()[0], 1.0f);
  EXPECT_EQ(copy.as<float>()[2], 3.0f);
  EXPECT_EQ(error_of([&] {
              HostTensor::copy_of(DType::Float32, {2, 3}, std::as_bytes(std::span(values)));
            }),
            "tensor data is 12 bytes but float32[2, 3] needs 24");

  std::vector<std::byte> buffer(4, std::byte{7});
  const std::byte* before = buffer.data();
  HostTensor adopted = HostTensor::adopt(DType::UInt8, {2, 2}, std::move(buffer));
  EXPECT_EQ(adopted.data(), before);  // no copy
  EXPECT_EQ(adopted.as<uint8_t>()[3], 7);
  EXPECT_THROW(HostTensor::adopt(DType::Int16, {3}, std::vector<std::byte>(5)), Error);

  HostTensor scalar = HostTensor::zeros(DType::Float64, {});
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.nbytes(), 8u);
  EXPECT_EQ(describe(scalar), "float64[]");
  HostTensor empty = HostTensor::zeros(DType::Float32, {0, 3});
  EXPECT_EQ(empty.nbytes(), 0u);
}

TEST(HostTensor, CheckBoolBytes) {
  std::vector<std::byte> ok = {std::byte{0}, std::byte{1}, std::byte{1}};
  EXPECT_NO_THROW(check_bool_bytes(ok, "x"));
  std::vector<std::byte> bad = {std::byte{0}, std::byte{1}, std::byte{2}};
  EXPECT_EQ(error_of([&] { check_bool_bytes(bad, "npy"); }),
            "npy: bool element 2 is 2 (only 0 and 1 are allowed)");
}

}  // namespace
}  // namespace hm
