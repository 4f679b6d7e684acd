#include "hm/tensor/capnp_stream.h"

#include <gtest/gtest.h>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <random>

#include "hm/base/error.h"
#include "hm/tensor/wire_tensor.h"
#include "tensor_test_util.h"
#include "test_paths.h"

namespace hm {
namespace {

using test::bytes_of;
using test::error_of;

std::string encode_all(const std::vector<HostTensor>& tensors) {
  std::string out;
  for (const auto& tensor : tensors) out += encode_capnp(tensor);
  return out;
}

TEST(CapnpStream, RoundTripsEveryDtype) {
  auto tensors = test::sample_tensors();
  tensors.push_back(HostTensor::zeros(DType::Float64, {3, 0}));
  auto decoded = decode_capnp_stream(bytes_of(encode_all(tensors)));
  ASSERT_EQ(decoded.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) EXPECT_TRUE(test::same_tensor(decoded[i], tensors[i]));
  EXPECT_TRUE(decode_capnp_stream({}).empty());
}

TEST(CapnpStream, MessagesAreStandardFraming) {
  HostTensor tensor = test::sample_tensor(DType::Int32, {2, 3});
  std::string encoded = encode_capnp(tensor);
  // Exactly what capnp::messageToFlatArray makes of the same message.
  capnp::MallocMessageBuilder builder;
  to_wire(tensor, builder.initRoot<wire::Tensor>());
  auto flat = capnp::messageToFlatArray(builder);
  EXPECT_EQ(encoded, std::string(reinterpret_cast<const char*>(flat.begin()), flat.size() * 8));
}

TEST(CapnpStream, ZeroCopyWhenAlignedWithOwner) {
  auto tensors = test::sample_tensors();
  auto buffer = std::make_shared<std::string>(encode_all(tensors));
  ASSERT_EQ(reinterpret_cast<uintptr_t>(buffer->data()) % 8, 0u);
  auto decoded = decode_capnp_stream(bytes_of(*buffer), buffer);
  const auto* begin = reinterpret_cast<const std::byte*>(buffer->data());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(decoded[i].owner, buffer);
    EXPECT_GE(decoded[i].data(), begin);
    EXPECT_LE(decoded[i].data() + decoded[i].nbytes(), begin + buffer->size());
    EXPECT_TRUE(test::same_tensor(decoded[i], tensors[i]));
  }
}

TEST(CapnpStream, MisalignedInputIsCopiedOnce) {
  auto tensors = test::sample_tensors();
  auto buffer = std::make_shared<std::string>("1234" + encode_all(tensors));
  auto decoded = decode_capnp_stream(bytes_of(*buffer).subspan(4), buffer);
  ASSERT_EQ(decoded.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_NE(decoded[i].owner, buffer);
    EXPECT_EQ(decoded[i].owner, decoded[0].owner);  // all share one aligned copy
    EXPECT_TRUE(test::same_tensor(decoded[i], tensors[i]));
  }
}

TEST(CapnpStream, RefusesMalformedStreams) {
  std::string two = encode_all({test::sample_tensor(DType::Float32, {2, 3}),
                                test::sample_tensor(DType::Int8, {4})});
  EXPECT_EQ(error_of([&] { decode_capnp_stream(bytes_of(two.substr(0, two.size() - 3))); }),
            fmt::format("capnp stream: {} bytes is not a whole number of 8-byte words "
                        "(truncated?)",
                        two.size() - 3));
  std::string first_size = encode_capnp(test::sample_tensor(DType::Float32, {2, 3}));
  std::string cut = two.substr(0, two.size() - 8);
  EXPECT_NE(error_of([&] { decode_capnp_stream(bytes_of(cut)); })
                .find(fmt::format("capnp stream: message 2 at byte {}: ", first_size.size())),
            std::string::npos);
  std::string garbage(64, '\xff');
  EXPECT_NE(error_of([&] { decode_capnp_stream(bytes_of(garbage)); })
                .find("capnp stream: message 1 at byte 0: "),
            std::string::npos);

  // A well-formed message whose data does not match its shape.
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::Tensor>();
  root.setDtype(wire::DType::FLOAT32);
  auto shape = root.initShape(2);
  shape.set(0, 2);
  shape.set(1, 3);
  root.initData(12);
  auto flat = capnp::messageToFlatArray(builder);
  std::string bad(reinterpret_cast<const char*>(flat.begin()), flat.size() * 8);
  EXPECT_EQ(error_of([&] { decode_capnp_stream(bytes_of(bad)); }),
            "capnp stream: message 1 at byte 0: tensor data is 12 bytes but float32[2, 3] "
            "needs 24");
}

TEST(CapnpStream, SurvivesTruncationAndCorruption) {
  std::string stream = encode_all(test::sample_tensors());
  for (size_t cut = 0; cut <= stream.size(); cut += 8) {
    try {
      decode_capnp_stream(bytes_of(stream.substr(0, cut)));
    } catch (const Error&) {
    }
  }
  std::mt19937 random(3);
  for (int round = 0; round < 3000; ++round) {
    std::string corrupt = stream;
    for (int flips = 0; flips < 1 + round % 4; ++flips) {
      corrupt[random() % corrupt.size()] = static_cast<char>(random());
    }
    try {
      decode_capnp_stream(bytes_of(corrupt));
    } catch (const Error&) {
    }
  }
}

// Stock `capnp convert` (the oracle) decodes the stream we write.
TEST(CapnpStream, CapnpToolDecodesOurStream) {
  test::TempDir dir;
  std::vector<HostTensor> tensors = {
      test::tensor_of<int32_t>(DType::Int32, {2, 3}, {1, 2, 3, 4, 5, 6}),
      test::tensor_of<uint8_t>(DType::Bool, {2}, {1, 0}),
  };
  test::write_file(dir.file("stream.bin"), bytes_of(encode_all(tensors)));
  std::string schema = std::string(HM_TEST_DATA) + "/../../schemas/tensor.capnp";
  auto result = test::run_command("capnp convert binary:text " + schema + " Tensor < " +
                                  dir.file("stream.bin"));
  ASSERT_EQ(result.status, 0) << result.out;
  // capnp prints bytes as octal escapes and puts a short message on one line.
  EXPECT_EQ(result.out,
            "( dtype = int32,\n"
            "  shape = [2, 3],\n"
            "  compression = none,\n"
            "  data = \"\\001\\000\\000\\000\\002\\000\\000\\000\\003\\000\\000\\000"
            "\\004\\000\\000\\000\\005\\000\\000\\000\\006\\000\\000\\000\" )\n"
            "(dtype = bool, shape = [2], compression = none, data = \"\\001\\000\")\n");
}

}  // namespace
}  // namespace hm
