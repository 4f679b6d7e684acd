// Every refusal of the compression codecs, with its message: what a peer's
// bytes can get wrong (lengths, codes, NaN or Inf in the tables, the dtype)
// and what a caller can (dtypes, non-finite values, output sizes).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "compression_test_util.h"
#include "hm/tensor/compression.h"
#include "tensor_test_util.h"

namespace hm {
namespace {

using test::error_of;

std::vector<std::byte> encoded(const HostTensor& tensor, wire::Compression kind) {
  std::vector<std::byte> wire(compressed_size(tensor, kind));
  compress_into(tensor, kind, wire);
  return wire;
}

std::string decode_error(DType dtype, std::vector<int64_t> shape, wire::Compression kind,
                         std::span<const std::byte> data) {
  return error_of([&] { decompress(dtype, shape, kind, data); });
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(CompressionRefusals, EncodingTheWrongTensor) {
  const auto ints = HostTensor::zeros(DType::Int32, {2});
  for (auto kind : {wire::Compression::MEANSTD16, wire::Compression::UNIFORM8,
                    wire::Compression::QUANTILE8, wire::Compression::BLOCKWISE8}) {
    const std::string name(compression_name(kind));
    EXPECT_EQ(error_of([&] { compressed_size(ints, kind); }),
              name + " compression needs a floating-point tensor, got int32[2]");
    const auto nan = test::tensor_of<float>(DType::Float32, {4}, {1, 2, kNaN, 3});
    std::vector<std::byte> out(compressed_size(nan, kind));
    EXPECT_EQ(error_of([&] { compress_into(nan, kind, out); }),
              name + " compression of float32[4]: element 2 is NaN (a lossy compression cannot "
                     "carry NaN or Inf)");
    const auto inf = test::tensor_of<double>(DType::Float64, {2}, {-INFINITY, 0});
    out.resize(compressed_size(inf, kind));
    EXPECT_EQ(error_of([&] { compress_into(inf, kind, out); }),
              name + " compression of float64[2]: element 0 is Inf (a lossy compression cannot "
                     "carry NaN or Inf)");
    const auto huge = test::tensor_of<double>(DType::Float64, {2}, {0, 1e39});
    EXPECT_EQ(error_of([&] { compress_into(huge, kind, out); }),
              name + " compression of float64[2]: element 1 is beyond float32's range");
    out.resize(out.size() + 1);
    EXPECT_EQ(error_of([&] { compress_into(huge, kind, out); }),
              name + " compression of float64[2]: the output is " + std::to_string(out.size()) +
                  " bytes but needs " + std::to_string(out.size() - 1));
  }
  EXPECT_EQ(error_of([] {
              compressed_size(test::randn(DType::Float64, {3}), wire::Compression::FLOAT16);
            }),
            "float16 compression needs a float32 tensor, got float64[3]");
  EXPECT_EQ(error_of([&] { compressed_size(ints, static_cast<wire::Compression>(9)); }),
            "unknown compression 9");
}

TEST(CompressionRefusals, DecodingForAWrongDtypeOrKind) {
  const auto wire = encoded(test::randn(DType::Float32, {2}), wire::Compression::UNIFORM8);
  EXPECT_EQ(decode_error(DType::Int32, {2}, wire::Compression::UNIFORM8, wire),
            "uniform8 tensor int32[2]: only floating-point tensors can be compressed this way");
  EXPECT_EQ(decode_error(DType::Bool, {2}, wire::Compression::BLOCKWISE8, wire),
            "blockwise8 tensor bool[2]: only floating-point tensors can be compressed this way");
  EXPECT_EQ(decode_error(DType::Float32, {2}, static_cast<wire::Compression>(6), wire),
            "unknown compression 6");
  std::vector<std::byte> halves(4);
  EXPECT_EQ(decode_error(DType::Float64, {2}, wire::Compression::FLOAT16, halves),
            "float16 tensor float64[2]: only float32 tensors can be sent as float16");
  EXPECT_EQ(decode_error(DType::Float32, {3}, wire::Compression::FLOAT16, halves),
            "float16 tensor float32[3]: data is 4 bytes but 3 float16 values need 6");
  EXPECT_EQ(decode_error(DType::Float32, {2}, wire::Compression::NONE, halves),
            "tensor data is 4 bytes but float32[2] needs 8");
  std::vector<std::byte> out(7);
  EXPECT_EQ(error_of([&] {
              decompress_into(DType::Float32, std::vector<int64_t>{2}, wire::Compression::UNIFORM8,
                              wire, out);
            }),
            "uniform8 tensor float32[2]: the output is 7 bytes but needs 8");
  EXPECT_EQ(decode_error(DType::Float32, {2, -1}, wire::Compression::UNIFORM8, wire),
            "negative dimension -1 in shape [2, -1]");
}

TEST(CompressionRefusals, Meanstd16) {
  const auto wire = encoded(test::randn(DType::Float32, {3, 4}), wire::Compression::MEANSTD16);
  ASSERT_EQ(wire.size(), 24u + 24);
  const auto kind = wire::Compression::MEANSTD16;
  EXPECT_EQ(decode_error(DType::Float32, {3, 4}, kind, std::span(wire).first(40)),
            "meanstd16 tensor float32[3, 4]: data is 40 bytes but 12 float16 values and 3 means "
            "and stds need 48");
  EXPECT_EQ(decode_error(DType::Float32, {4, 3}, kind, wire),
            "meanstd16 tensor float32[4, 3]: data is 48 bytes but 12 float16 values and 4 means "
            "and stds need 56");
  auto bad = wire;
  test::put_f32(bad, 24 + 4, kNaN);
  EXPECT_EQ(decode_error(DType::Float32, {3, 4}, kind, bad),
            "meanstd16 tensor float32[3, 4]: mean entry 1 is nan");
  bad = wire;
  test::put_f32(bad, 24 + 12 + 8, -kInf);
  EXPECT_EQ(decode_error(DType::Float16, {3, 4}, kind, bad),
            "meanstd16 tensor float16[3, 4]: std entry 2 is -inf");
  EXPECT_EQ(decode_error(DType::Int8, {3, 4}, kind, wire),
            "meanstd16 tensor int8[3, 4]: only floating-point tensors can be compressed this way");
}

TEST(CompressionRefusals, Uniform8AndQuantile8) {
  for (auto kind : {wire::Compression::UNIFORM8, wire::Compression::QUANTILE8}) {
    const std::string name(compression_name(kind));
    const auto wire = encoded(test::randn(DType::Float32, {4, 4}), kind);
    ASSERT_EQ(wire.size(), 8u + 1024 + 16);
    EXPECT_EQ(decode_error(DType::Float32, {4, 4}, kind, std::span(wire).first(5)),
              name + " tensor float32[4, 4]: data is 5 bytes, too short for the 8-byte codebook "
                     "length");
    EXPECT_EQ(decode_error(DType::Float32, {4, 4}, kind, std::span(wire).first(1040)),
              name + " tensor float32[4, 4]: data is 1040 bytes but a codebook of 256 entries "
                     "and 16 codes need 1048");
    EXPECT_EQ(decode_error(DType::Float32, {5, 4}, kind, wire),
              name + " tensor float32[5, 4]: data is 1048 bytes but a codebook of 256 entries "
                     "and 20 codes need 1052");
    auto bad = wire;
    for (int64_t length :
         {int64_t{0}, int64_t{-1}, int64_t{257}, int64_t{1} << 62}) {
      test::put_i64(bad, 0, length);
      EXPECT_EQ(decode_error(DType::Float32, {4, 4}, kind, bad),
                name + " tensor float32[4, 4]: codebook length " + std::to_string(length) +
                    " (it must be 1 to 256)");
    }
    bad = wire;
    test::put_f32(bad, 8 + 4 * 17, kNaN);
    EXPECT_EQ(decode_error(DType::Float32, {4, 4}, kind, bad),
              name + " tensor float32[4, 4]: codebook entry 17 is nan");
    bad = wire;
    test::put_f32(bad, 8 + 4 * 255, kInf);  // even an entry no code uses
    EXPECT_EQ(decode_error(DType::BFloat16, {4, 4}, kind, bad),
              name + " tensor bfloat16[4, 4]: codebook entry 255 is inf");
    // A shorter codebook: codes must stay below its length.
    std::vector<std::byte> short_book(8 + 4 * 17 + 16);
    test::put_i64(short_book, 0, 17);
    for (int i = 0; i < 17; ++i) test::put_f32(short_book, 8 + 4 * i, static_cast<float>(i));
    for (int i = 0; i < 16; ++i) short_book[8 + 68 + i] = std::byte{static_cast<uint8_t>(i)};
    const auto fine = decompress(DType::Float32, {4, 4}, kind, short_book);
    EXPECT_EQ(fine.as<float>()[15], 15.0f);
    short_book[8 + 68 + 5] = std::byte{200};
    EXPECT_EQ(decode_error(DType::Float32, {4, 4}, kind, short_book),
              name + " tensor float32[4, 4]: code 200 at element 5 is past the codebook's 17 "
                     "entries");
    short_book[8 + 68 + 5] = std::byte{17};
    EXPECT_EQ(decode_error(DType::Float32, {4, 4}, kind, short_book),
              name + " tensor float32[4, 4]: code 17 at element 5 is past the codebook's 17 "
                     "entries");
  }
}

TEST(CompressionRefusals, Blockwise8) {
  const auto kind = wire::Compression::BLOCKWISE8;
  const auto wire = encoded(test::randn(DType::Float32, {10000}), kind);
  const size_t size = 16 + 12 + 1024 + 10000;
  ASSERT_EQ(wire.size(), size);
  EXPECT_EQ(decode_error(DType::Float32, {10000}, kind, std::span(wire).first(15)),
            "blockwise8 tensor float32[10000]: data is 15 bytes, too short for the 16-byte header "
            "(absmax and code lengths)");
  auto bad = wire;
  test::put_i64(bad, 0, 2);
  EXPECT_EQ(decode_error(DType::Float32, {10000}, kind, bad),
            "blockwise8 tensor float32[10000]: absmax length 2 but 10000 elements need 3");
  test::put_i64(bad, 0, -3);
  EXPECT_EQ(decode_error(DType::Float32, {10000}, kind, bad),
            "blockwise8 tensor float32[10000]: absmax length -3 but 10000 elements need 3");
  bad = wire;
  for (int64_t length : {0, 257}) {
    test::put_i64(bad, 8, length);
    EXPECT_EQ(decode_error(DType::Float32, {10000}, kind, bad),
              "blockwise8 tensor float32[10000]: code length " + std::to_string(length) +
                  " (it must be 1 to 256)");
  }
  EXPECT_EQ(decode_error(DType::Float32, {10000}, kind, std::span(wire).first(size - 1)),
            "blockwise8 tensor float32[10000]: data is 11051 bytes but 3 absmax values, a code "
            "of 256 entries and 10000 codes need 11052");
  EXPECT_EQ(decode_error(DType::Float32, {9000}, kind, wire),
            "blockwise8 tensor float32[9000]: data is 11052 bytes but 3 absmax values, a code of "
            "256 entries and 9000 codes need 10052");
  bad = wire;
  test::put_f32(bad, 16 + 4, kNaN);
  EXPECT_EQ(decode_error(DType::Float32, {10000}, kind, bad),
            "blockwise8 tensor float32[10000]: absmax entry 1 is nan");
  bad = wire;
  test::put_f32(bad, 16 + 12 + 4 * 3, kInf);
  EXPECT_EQ(decode_error(DType::Float64, {10000}, kind, bad),
            "blockwise8 tensor float64[10000]: code entry 3 is inf");
  // A code of 16 entries: the data shrinks by 960 bytes, codes must be < 16.
  std::vector<std::byte> small(16 + 12 + 64 + 10000);
  std::copy(wire.begin(), wire.begin() + 16 + 12 + 64, small.begin());
  test::put_i64(small, 8, 16);
  for (size_t i = 0; i < 10000; ++i) small[16 + 12 + 64 + i] = std::byte{static_cast<uint8_t>(i % 16)};
  EXPECT_NO_THROW(decompress(DType::Float32, {10000}, kind, small));
  small[16 + 12 + 64 + 9999] = std::byte{16};
  EXPECT_EQ(decode_error(DType::Float32, {10000}, kind, small),
            "blockwise8 tensor float32[10000]: code 16 at element 9999 is past the code's 16 "
            "entries");
}

}  // namespace
}  // namespace hm
