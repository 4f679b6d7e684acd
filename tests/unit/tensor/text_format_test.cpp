#include "hm/tensor/text_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "hm/base/error.h"
#include "tensor_test_util.h"

namespace hm {
namespace {

using test::error_of;

using test::tensor_of;

TEST(TextFormat, WritesRowsOfValues) {
  const float inf = std::numeric_limits<float>::infinity();
  HostTensor floats = tensor_of<float>(DType::Float32, {2, 3},
                                       {0.1f, 1.0f, -2.5f, 1e-45f, inf, -inf});
  EXPECT_EQ(format_text(std::vector{floats}), "0.1 1 -2.5\n1e-45 inf -inf\n");
  HostTensor cube = tensor_of<int32_t>(DType::Int32, {2, 2, 2}, {1, -2, 3, 4, 5, 6, 7, -8});
  EXPECT_EQ(format_text(std::vector{cube}), "1 -2 3 4\n5 6 7 -8\n");
  HostTensor column = tensor_of<int64_t>(DType::Int64, {3}, {INT64_MIN, 0, INT64_MAX});
  EXPECT_EQ(format_text(std::vector{column}),
            "-9223372036854775808\n0\n9223372036854775807\n");
  HostTensor scalar = tensor_of<double>(DType::Float64, {}, {0.30000000000000004});
  EXPECT_EQ(format_text(std::vector{scalar}), "0.30000000000000004\n");
  HostTensor flags = tensor_of<uint8_t>(DType::Bool, {1, 3}, {1, 0, 1});
  HostTensor bytes = tensor_of<uint8_t>(DType::UInt8, {1, 2}, {255, 7});
  EXPECT_EQ(format_text(std::vector{flags, bytes}), "1 0 1\n\n255 7\n");
  HostTensor halves = tensor_of<uint16_t>(DType::Float16, {2}, {0x3c00, 0x7e00});
  EXPECT_EQ(format_text(std::vector{halves}), "1\nnan\n");
  HostTensor brains = tensor_of<uint16_t>(DType::BFloat16, {1, 2}, {0x4049, 0xbf80});
  EXPECT_EQ(format_text(std::vector{brains}), "3.140625 -1\n");
}

TEST(TextFormat, RefusesEmptyTensors) {
  EXPECT_EQ(error_of([] { format_text(std::vector{HostTensor::zeros(DType::Float32, {0, 3})}); }),
            "text format cannot write float32[0, 3]: it has no values");
}

TEST(TextFormat, RoundTripsEveryDtype) {
  for (const auto& tensor : test::sample_tensors()) {
    std::string text = format_text(std::vector{tensor});
    auto parsed = parse_text(text, tensor.dtype);
    ASSERT_EQ(parsed.size(), 1u) << describe(tensor);
    int64_t rows = tensor.shape.empty() ? 1 : tensor.shape[0];
    EXPECT_EQ(parsed[0].shape, (std::vector<int64_t>{rows, tensor.numel() / rows}));
    EXPECT_EQ(parsed[0].bytes.size(), tensor.bytes.size());
    EXPECT_TRUE(std::equal(parsed[0].bytes.begin(), parsed[0].bytes.end(), tensor.bytes.begin()))
        << describe(tensor) << "\n" << text;
  }
}

TEST(TextFormat, ReadsBlocksSeparatedByEmptyLines) {
  auto tensors = parse_text("\n1 2\r\n3\t4\n  \n\n5\n6\n7\n\n", DType::Int32);
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_EQ(describe(tensors[0]), "int32[2, 2]");
  auto first = tensors[0].as<int32_t>();
  EXPECT_EQ(std::vector<int32_t>(first.begin(), first.end()), (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(describe(tensors[1]), "int32[3, 1]");
  EXPECT_EQ(tensors[1].as<int32_t>()[2], 7);
  EXPECT_TRUE(parse_text("").empty());
  EXPECT_TRUE(parse_text("\n \n\t\n").empty());
  // No newline at the end, float32 by default.
  auto last = parse_text("1.5 -2");
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(describe(last[0]), "float32[1, 2]");
  EXPECT_EQ(last[0].as<float>()[1], -2.0f);
}

TEST(TextFormat, ReadsSpecialFloats) {
  auto tensors = parse_text("nan inf -inf +2.5 1e-50 -0\n");
  ASSERT_EQ(tensors.size(), 1u);
  auto v = tensors[0].as<float>();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[2], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[3], 2.5f);
  EXPECT_EQ(v[4], 0.0f);  // underflows to zero, like numpy
  EXPECT_TRUE(std::signbit(v[5]));
  auto doubles = parse_text("1e-320 1e300", DType::Float64);
  EXPECT_EQ(doubles[0].as<double>()[0], 1e-320);
  EXPECT_EQ(doubles[0].as<double>()[1], 1e300);
}

TEST(TextFormat, ErrorsNameLineAndToken) {
  EXPECT_EQ(error_of([] { parse_text("1 2 3 4\n5 6 7 8\n1 2 3 4 5\n"); }),
            "text tensor: row 3 has 5 values, row 1 has 4 (line 3)");
  EXPECT_EQ(error_of([] { parse_text("1 2\n\n1 2\n3\n"); }),
            "text tensor: row 2 has 1 values, row 1 has 2 (line 4)");
  EXPECT_EQ(error_of([] { parse_text("1 2\n3 abc\n"); }),
            "text tensor: line 2: 'abc' is not a number");
  EXPECT_EQ(error_of([] { parse_text("1.5x\n"); }), "text tensor: line 1: '1.5x' is not a number");
  EXPECT_EQ(error_of([] { parse_text("1\n1.5\n", DType::Int64); }),
            "text tensor: line 2: '1.5' is not an integer");
  EXPECT_EQ(error_of([] { parse_text("300\n", DType::Int8); }),
            "text tensor: line 1: 300 is out of range for int8");
  EXPECT_EQ(error_of([] { parse_text("-1\n", DType::UInt8); }),
            "text tensor: line 1: -1 is out of range for uint8");
  EXPECT_EQ(error_of([] { parse_text("99999999999999999999\n", DType::Int64); }),
            "text tensor: line 1: 99999999999999999999 is out of range for int64");
  EXPECT_EQ(error_of([] { parse_text("1e39\n"); }),
            "text tensor: line 1: 1e39 is out of range for float32");
  EXPECT_EQ(error_of([] { parse_text("1e5\n", DType::Float16); }),
            "text tensor: line 1: 1e5 is out of range for float16");
  EXPECT_EQ(error_of([] { parse_text("1e999\n", DType::Float64); }),
            "text tensor: line 1: 1e999 is out of range for float64");
  EXPECT_EQ(error_of([] { parse_text("0 1 2\n", DType::Bool); }),
            "text tensor: line 1: '2' is not a bool (use 0 or 1)");
  EXPECT_EQ(error_of([] { parse_text(std::string("1 \x01\x02\n", 5)); }),
            "text tensor: line 1: '\\x01\\x02' is not a number");
  EXPECT_EQ(error_of([] { parse_text("++1\n"); }), "text tensor: line 1: '++1' is not a number");
}

TEST(TextFormat, EnforcesElementLimit) {
  TensorLimits limits{5, 1000};
  EXPECT_EQ(parse_text("1 2 3 4 5\n", DType::Float32, limits).size(), 1u);
  EXPECT_EQ(error_of([&] { parse_text("1 2 3\n4 5 6\n", DType::Float32, limits); }),
            "text tensor: line 2: more than 5 values in one tensor");
}

}  // namespace
}  // namespace hm
