// The .npy codec on its own: round trips, header parsing, malformed input.
// (npy_numpy_test.cpp checks interop with numpy itself.)
#include "hm/tensor/npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "hm/base/error.h"
#include "hm/tensor/npy_header.h"
#include "tensor_test_util.h"

namespace hm {
namespace {

using test::bytes_of;
using test::error_of;

// A record with this header dict (padded to 64 like numpy) and data.
std::string make_npy(const std::string& dict, const std::string& data = "", int major = 1) {
  size_t width = major == 1 ? 2 : 4;
  size_t unpadded = 8 + width + dict.size() + 1;
  size_t length = dict.size() + 1 + (64 - unpadded % 64) % 64;
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < width; ++i) out += static_cast<char>((length >> (8 * i)) & 0xff);
  out += dict;
  out.append(length - dict.size() - 1, ' ');
  out += '\n';
  return out + data;
}

std::string f32_dict(const std::string& shape) {
  return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
}

TEST(Npy, RoundTripsEveryDtype) {
  auto tensors = test::sample_tensors();
  tensors.push_back(HostTensor::zeros(DType::Int16, {0, 3}));
  for (const auto& tensor : tensors) {
    std::string encoded = encode_npy(tensor);
    EXPECT_EQ(npy_preamble(tensor).size() % 64, 0u) << describe(tensor);
    NpyRecord record = decode_npy(bytes_of(encoded));
    EXPECT_EQ(record.consumed, encoded.size());
    EXPECT_TRUE(test::same_tensor(record.tensor, tensor));
  }
}

TEST(Npy, WritesNumpysHeader) {
  HostTensor tensor = HostTensor::zeros(DType::Float32, {2, 3});
  std::string preamble = npy_preamble(tensor);
  ASSERT_EQ(preamble.size(), 128u);  // 10 + 59 bytes of dict + '\n', rounded up to 64
  EXPECT_EQ(preamble.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<uint8_t>(preamble[8]) | (static_cast<uint8_t>(preamble[9]) << 8), 118);
  EXPECT_EQ(preamble.substr(10).find(f32_dict("(2, 3)")), 0u);
  EXPECT_EQ(preamble.back(), '\n');
  EXPECT_NE(npy_preamble(HostTensor::zeros(DType::Bool, {3})).find("'descr': '|b1'"),
            std::string::npos);
  EXPECT_NE(npy_preamble(HostTensor::zeros(DType::Int8, {3})).find("'shape': (3,)"),
            std::string::npos);
  EXPECT_NE(npy_preamble(HostTensor::zeros(DType::Float64, {})).find("'shape': ()"),
            std::string::npos);
  EXPECT_NE(npy_preamble(HostTensor::zeros(DType::BFloat16, {1}))
                .find("'descr': [('bfloat16', '<u2')]"),
            std::string::npos);
}

TEST(Npy, LongHeaderUsesVersion2) {
  HostTensor tensor = HostTensor::zeros(DType::UInt8, std::vector<int64_t>(25000, 1));
  std::string encoded = encode_npy(tensor);
  EXPECT_EQ(encoded[6], '\x02');
  EXPECT_EQ(npy_preamble(tensor).size() % 64, 0u);
  NpyRecord record = decode_npy(bytes_of(encoded));
  EXPECT_EQ(record.tensor.shape.size(), 25000u);
  EXPECT_EQ(record.consumed, encoded.size());
}

TEST(Npy, ZeroCopyWithOwner) {
  HostTensor tensor = test::sample_tensor(DType::Float64, {3, 4});
  auto encoded = std::make_shared<std::string>(encode_npy(tensor));
  NpyRecord record = decode_npy(bytes_of(*encoded), encoded);
  EXPECT_EQ(record.tensor.owner, encoded);
  EXPECT_EQ(record.tensor.data(),
            reinterpret_cast<const std::byte*>(encoded->data()) + npy_preamble(tensor).size());
  EXPECT_TRUE(test::same_tensor(record.tensor, tensor));
  // Without an owner the tensor owns a copy.
  NpyRecord copied = decode_npy(bytes_of(*encoded));
  EXPECT_NE(copied.tensor.owner, encoded);
  EXPECT_TRUE(test::same_tensor(copied.tensor, tensor));
}

TEST(Npy, MisalignedInputIsCopied) {
  HostTensor tensor = test::sample_tensor(DType::Int64, {5});
  auto buffer = std::make_shared<std::string>("x" + encode_npy(tensor));
  auto bytes = bytes_of(*buffer).subspan(1);
  NpyRecord record = decode_npy(bytes, buffer);
  EXPECT_NE(record.tensor.owner, buffer);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(record.tensor.data()) % 8, 0u);
  EXPECT_TRUE(test::same_tensor(record.tensor, tensor));
}

TEST(Npy, DecodesConsecutiveRecords) {
  auto tensors = test::sample_tensors();
  std::string stream;
  for (const auto& tensor : tensors) stream += encode_npy(tensor);
  auto decoded = decode_npy_all(bytes_of(stream));
  ASSERT_EQ(decoded.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) EXPECT_TRUE(test::same_tensor(decoded[i], tensors[i]));
  EXPECT_TRUE(decode_npy_all({}).empty());

  std::string broken = stream + "\x93NUMPY\x01";
  EXPECT_NE(error_of([&] { decode_npy_all(bytes_of(broken)); })
                .find(fmt::format("npy record 12 at byte {}: truncated .npy", stream.size())),
            std::string::npos);
}

TEST(Npy, HeaderParsingIsTolerantOfSpacingOrderAndQuotes) {
  for (const char* dict : {
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
           "{'shape':(2,3),'fortran_order':False,'descr':'<f4'}",
           "{ \"descr\" : \"<f4\" ,\n 'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L)}",
       }) {
    NpyHeader header = parse_npy_header(dict);
    EXPECT_EQ(header.dtype, DType::Float32) << dict;
    EXPECT_EQ(header.shape, (std::vector<int64_t>{2, 3})) << dict;
    EXPECT_FALSE(header.fortran_order);
  }
  EXPECT_EQ(parse_npy_header(f32_dict("()")).shape, std::vector<int64_t>{});
  EXPECT_EQ(parse_npy_header(f32_dict("(3,)")).shape, std::vector<int64_t>{3});
  NpyHeader big = parse_npy_header("{'descr': '>i8', 'fortran_order': True, 'shape': (4,)}");
  EXPECT_EQ(big.dtype, DType::Int64);
  EXPECT_TRUE(big.big_endian);
  EXPECT_TRUE(big.fortran_order);
  NpyHeader bf16 = parse_npy_header(
      "{'descr': [('bfloat16', '<u2')], 'fortran_order': False, 'shape': (1,), }");
  EXPECT_EQ(bf16.dtype, DType::BFloat16);
  EXPECT_FALSE(parse_npy_header("{'descr': '|u1', 'fortran_order': False, 'shape': ()}").big_endian);
  EXPECT_EQ(parse_npy_header("{'descr': '>u1', 'fortran_order': False, 'shape': ()}").big_endian,
            false);  // byte order means nothing for one byte
}

TEST(Npy, HeaderFormatParsesBack) {
  NpyHeader header;
  header.dtype = DType::BFloat16;
  header.shape = {7, 0, 2};
  NpyHeader parsed = parse_npy_header(format_npy_header(header));
  EXPECT_EQ(parsed.dtype, DType::BFloat16);
  EXPECT_EQ(parsed.shape, header.shape);
}

TEST(Npy, RefusesUnsupportedDescrsNamingThem) {
  for (const char* descr : {"'<c8'", "'|O'", "'<U5'", "'<u2'", "'|f4'", "'<f16'", "'f4'",
                            "[('a', '<f4')]", "[('bfloat16', '<u2'), ('b', '<u2')]",
                            "[('bfloat16', '<f2')]", "3", "None"}) {
    std::string dict = std::string("{'descr': ") + descr + ", 'fortran_order': False, 'shape': (1,)}";
    std::string message = error_of([&] { parse_npy_header(dict); });
    EXPECT_NE(message.find(std::string("unsupported descr ") + descr), std::string::npos)
        << message;
  }
}

TEST(Npy, RefusesGarbageDicts) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"hello", "expected '{'"},
      {"", "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
       "unexpected key 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
       "key 'descr' appears twice"},
      {"{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,)}",
       "fortran_order must be True or False, got 'no'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}",
       "shape must be a tuple, got [2, 3]"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", "shape must be a tuple, got 3"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': ('a',)}",
       "shape entry 'a' is not an integer"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}", "expected ',' or ')'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
       "integer out of range"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", "unexpected text after"},
      {"{'descr': '<f4', 'fortran_order': __import__('os'), 'shape': (1,)}", "expected a string"},
      {"{1: 2}", "dict key must be a string"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': " + std::string(40, '(') + "}",
       "nesting too deep"},
  };
  for (const auto& [dict, expected] : cases) {
    std::string message = error_of([&] { parse_npy_header(dict); });
    EXPECT_NE(message.find(expected), std::string::npos) << dict << " -> " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(Npy, RefusesMalformedRecords) {
  std::string good = make_npy(f32_dict("(2, 3)"), std::string(24, '\0'));
  auto decode_error = [](const std::string& bytes) {
    return error_of([&] { decode_npy(bytes_of(bytes)); });
  };
  EXPECT_EQ(decode_error(good.substr(0, 20)),
            "truncated .npy: header says 118 bytes of header, file has 10");
  EXPECT_EQ(decode_error(good.substr(0, good.size() - 4)),
            "truncated .npy: header says 24 bytes of data, file has 20");
  EXPECT_EQ(decode_error(good.substr(0, 7)), "truncated .npy: 7 bytes, too short for a header");
  EXPECT_EQ(decode_error("PK\x03\x04 zip file"),
            "not a .npy record: bad magic (starts with 50 4b 03 04 20 7a 69 70)");
  EXPECT_NE(decode_error("").find("truncated"), std::string::npos);

  std::string version = good;
  version[6] = 4;
  EXPECT_EQ(decode_error(version), "unsupported .npy version 4.0 (hm reads 1.0, 2.0 and 3.0)");
  version[6] = 1;
  version[7] = 1;
  EXPECT_NE(decode_error(version).find("version 1.1"), std::string::npos);

  std::string long_header = good;
  long_header[8] = '\x60';
  long_header[9] = '\xea';  // 60000 bytes of header
  EXPECT_EQ(decode_error(long_header),
            "truncated .npy: header says 60000 bytes of header, file has 142");
  std::string huge_header = make_npy(f32_dict("(1,)"), "", 2);
  std::memset(huge_header.data() + 8, 0xff, 4);
  EXPECT_EQ(decode_error(huge_header), "npy header length 4294967295 exceeds the limit of 1048576 bytes");

  EXPECT_EQ(decode_error(make_npy(f32_dict("(-1, 3)"))), "negative dimension -1 in shape [-1, 3]");
  // 2^40 elements: refused from the header alone, nothing allocated.
  EXPECT_EQ(decode_error(make_npy(f32_dict("(1048576, 1048576)"))),
            "shape [1048576, 1048576] has more than 2147483648 elements");
  EXPECT_NE(decode_error(make_npy(f32_dict("(4294967296, 4294967296, 4)"))).find("more than"),
            std::string::npos);
  // A generous limit still checks the data is there before allocating.
  TensorLimits generous{int64_t{1} << 41, size_t{1} << 45};
  EXPECT_EQ(error_of([&] {
              decode_npy(bytes_of(make_npy(f32_dict("(1048576, 1048576)"))), generous);
            }),
            "truncated .npy: header says 4398046511104 bytes of data, file has 0");
  TensorLimits small{1000, 100};
  EXPECT_EQ(error_of([&] { decode_npy(bytes_of(make_npy(f32_dict("(30,)"))), small); }),
            "npy: 30 elements of 4 bytes exceed the limit of 100 bytes");

  std::string bools = make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}",
                               std::string("\x00\x01\x02", 3));
  EXPECT_EQ(decode_error(bools), "npy: bool element 2 is 2 (only 0 and 1 are allowed)");
  EXPECT_NE(decode_error(make_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}",
                                  std::string(8, '\0')))
                .find("unsupported descr '<c8'"),
            std::string::npos);
}

TEST(Npy, ConvertsBigEndianAndFortranOrder) {
  // [[1, 2, 3], [4, 5, 6]] as big-endian int16 in column-major order.
  std::string data;
  for (int16_t v : {1, 4, 2, 5, 3, 6}) {
    data += static_cast<char>(v >> 8);
    data += static_cast<char>(v & 0xff);
  }
  auto bytes = make_npy("{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }", data);
  auto owner = std::make_shared<std::string>(bytes);
  HostTensor tensor = decode_npy(bytes_of(*owner), owner).tensor;
  EXPECT_NE(tensor.owner, owner);  // converted, so not a view
  EXPECT_EQ(tensor.shape, (std::vector<int64_t>{2, 3}));
  auto values = tensor.as<int16_t>();
  EXPECT_EQ(std::vector<int16_t>(values.begin(), values.end()),
            (std::vector<int16_t>{1, 2, 3, 4, 5, 6}));
}

// Every truncation and many corruptions of valid records either decode or
// throw hm::Error: no crash, no other exception, no giant allocation.
TEST(Npy, SurvivesTruncationAndCorruption) {
  std::string stream;
  for (const auto& tensor : test::sample_tensors()) stream += encode_npy(tensor);
  stream += make_npy("{'descr': '>f8', 'fortran_order': True, 'shape': (2, 2), }",
                     std::string(32, '\x3f'));
  for (size_t cut = 0; cut < stream.size(); cut += 7) {
    try {
      decode_npy_all(bytes_of(stream.substr(0, cut)));
    } catch (const Error&) {
    }
  }
  std::mt19937 random(1);
  for (int round = 0; round < 3000; ++round) {
    std::string corrupt = stream;
    for (int flips = 0; flips < 1 + round % 4; ++flips) {
      size_t at = random() % std::min<size_t>(corrupt.size(), round % 2 ? 128 : corrupt.size());
      corrupt[at] = static_cast<char>(random());
    }
    try {
      decode_npy_all(bytes_of(corrupt));
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace hm
