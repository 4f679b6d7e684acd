#include "hm/tensor/wire_tensor.h"

#include <gtest/gtest.h>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "hm/base/error.h"
#include "hm/tensor/compression.h"
#include "tensor_test_util.h"

namespace hm {
namespace {

using test::error_of;

// A message built from `tensor`, then read back through a flat array the way
// a received message is.
struct Received {
  explicit Received(const std::function<void(wire::Tensor::Builder)>& fill) {
    capnp::MallocMessageBuilder builder;
    fill(builder.initRoot<wire::Tensor>());
    words = capnp::messageToFlatArray(builder);
    reader = std::make_shared<capnp::FlatArrayMessageReader>(words.asPtr());
  }
  wire::Tensor::Reader root() const { return reader->getRoot<wire::Tensor>(); }
  std::span<const std::byte> span() const {
    return {reinterpret_cast<const std::byte*>(words.begin()), words.size() * 8};
  }

  kj::Array<capnp::word> words;
  std::shared_ptr<capnp::FlatArrayMessageReader> reader;
};

TEST(WireTensor, DTypesMapOneToOne) {
  for (int i = 0; i < kDTypeCount; ++i) {
    auto dtype = static_cast<DType>(i);
    EXPECT_EQ(from_wire(to_wire(dtype)), dtype);
  }
  EXPECT_EQ(to_wire(DType::BFloat16), wire::DType::BFLOAT16);
  EXPECT_EQ(to_wire(DType::Bool), wire::DType::BOOL);
  EXPECT_EQ(error_of([] { from_wire(static_cast<wire::DType>(12)); }), "unknown wire dtype 12");
}

TEST(WireTensor, RoundTripsEveryDtypeWithoutCopying) {
  auto tensors = test::sample_tensors();
  tensors.push_back(HostTensor::zeros(DType::UInt8, {0}));
  for (const auto& tensor : tensors) {
    Received message([&](auto out) { to_wire(tensor, out); });
    EXPECT_EQ(message.root().getCompression(), wire::Compression::NONE);
    HostTensor view = from_wire(message.root(), message.reader);
    EXPECT_TRUE(test::same_tensor(view, tensor));
    EXPECT_EQ(view.owner, message.reader);
    if (tensor.nbytes() > 0) {  // the view points into the message's words
      EXPECT_GE(view.data(), message.span().data());
      EXPECT_LE(view.data() + view.nbytes(), message.span().data() + message.span().size());
    }
    HostTensor copy = from_wire(message.root(), nullptr);
    EXPECT_TRUE(test::same_tensor(copy, tensor));
    EXPECT_NE(copy.owner, message.reader);
  }
}

// A float32 tensor of `n` values i * 0.5, in a buffer of its own.
HostTensor counting(int64_t n) {
  auto tensor = HostTensor::uninitialized(DType::Float32, {n});
  auto* data = reinterpret_cast<float*>(tensor.mutable_data());
  for (int64_t i = 0; i < n; ++i) data[i] = 0.5f * static_cast<float>(i);
  return tensor;
}

TEST(WireTensor, ByReferenceTheTensorsBytesAreASegmentOfTheMessage) {
  HostTensor tensor = counting(32 * 1024);  // 128 KiB
  ASSERT_TRUE(can_reference_on_wire(tensor));
  capnp::MallocMessageBuilder builder;
  to_wire_by_reference(tensor, builder.initRoot<wire::Tensor>());
  auto segments = builder.getSegmentsForOutput();
  ASSERT_EQ(segments.size(), 2u);  // the struct and shape, then the tensor itself
  EXPECT_EQ(reinterpret_cast<const std::byte*>(segments[1].begin()), tensor.data());
  EXPECT_EQ(segments[1].size() * sizeof(capnp::word), tensor.nbytes());
  // What a peer reads is the same tensor, whatever the segments.
  auto words = capnp::messageToFlatArray(segments);
  capnp::FlatArrayMessageReader reader(words.asPtr());
  EXPECT_TRUE(test::same_tensor(from_wire(reader.getRoot<wire::Tensor>(), nullptr), tensor));
}

TEST(WireTensor, OnlyOwnedAlignedWholeWordTensorsOfSomeSizeAreReferenced) {
  HostTensor big = counting(32 * 1024);
  EXPECT_TRUE(can_reference_on_wire(big));
  EXPECT_FALSE(can_reference_on_wire(counting(1024)));  // 4 KiB: cheaper to copy
  HostTensor unowned = big;
  unowned.owner = nullptr;
  EXPECT_FALSE(can_reference_on_wire(unowned));
  HostTensor misaligned = big;  // starts 4 bytes in
  misaligned.bytes = big.bytes.subspan(4, big.nbytes() - 8);
  misaligned.shape = {32 * 1024 - 2};
  EXPECT_FALSE(can_reference_on_wire(misaligned));
  HostTensor ragged = HostTensor::zeros(DType::UInt8, {64 * 1024 + 3});  // not whole words
  EXPECT_FALSE(can_reference_on_wire(ragged));
  capnp::MallocMessageBuilder builder;
  EXPECT_EQ(error_of([&] { to_wire_by_reference(misaligned, builder.initRoot<wire::Tensor>()); }),
            "float32[32766] cannot be sent by reference (it needs an owner and whole, aligned "
            "8-byte words)");
}

TEST(WireTensor, Float16Compression) {
  std::vector<float> values = {1.0f, -2.5f, 1e6f, -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::quiet_NaN(), 0.1f};
  HostTensor tensor =
      HostTensor::copy_of(DType::Float32, {2, 3}, std::as_bytes(std::span(values)));
  Received message([&](auto out) { to_wire(tensor, out, wire::Compression::FLOAT16); });
  EXPECT_EQ(message.root().getData().size(), 12u);
  EXPECT_EQ(message.root().getDtype(), wire::DType::FLOAT32);
  HostTensor decoded = from_wire(message.root(), message.reader);
  EXPECT_EQ(describe(decoded), "float32[2, 3]");
  auto v = decoded.as<float>();
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], -2.5f);
  EXPECT_EQ(v[2], 65504.0f);
  EXPECT_EQ(v[3], -65504.0f);
  EXPECT_TRUE(std::isnan(v[4]));
  EXPECT_NEAR(v[5], 0.1f, 1e-4f);

  HostTensor ints = HostTensor::zeros(DType::Int32, {2});
  capnp::MallocMessageBuilder builder;
  EXPECT_EQ(error_of([&] {
              to_wire(ints, builder.initRoot<wire::Tensor>(), wire::Compression::FLOAT16);
            }),
            "float16 compression needs a float32 tensor, got int32[2]");
  Received wrong([](auto out) {
    out.setDtype(wire::DType::INT32);
    out.initShape(1).set(0, 2);
    out.setCompression(wire::Compression::FLOAT16);
    out.initData(4);
  });
  EXPECT_EQ(error_of([&] { from_wire(wrong.root(), nullptr); }),
            "float16 tensor int32[2]: only float32 tensors can be sent as float16");
  Received short_data([](auto out) {
    out.setDtype(wire::DType::FLOAT32);
    out.initShape(1).set(0, 3);
    out.setCompression(wire::Compression::FLOAT16);
    out.initData(4);
  });
  EXPECT_EQ(error_of([&] { from_wire(short_data.root(), nullptr); }),
            "float16 tensor float32[3]: data is 4 bytes but 3 float16 values need 6");
}

TEST(WireTensor, LossyCompressionsEncodeIntoTheMessageAndDecodeIntoAFreshBuffer) {
  std::vector<float> values(5000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(0.01f * static_cast<float>(i));
  HostTensor tensor =
      HostTensor::copy_of(DType::Float32, {50, 100}, std::as_bytes(std::span(values)));
  for (auto kind : {wire::Compression::MEANSTD16, wire::Compression::UNIFORM8,
                    wire::Compression::QUANTILE8, wire::Compression::BLOCKWISE8}) {
    Received message([&](auto out) { to_wire(tensor, out, kind); });
    EXPECT_EQ(message.root().getCompression(), kind);
    EXPECT_EQ(message.root().getData().size(), compressed_size(tensor, kind));
    HostTensor decoded = from_wire(message.root(), message.reader);
    EXPECT_EQ(describe(decoded), "float32[50, 100]");
    EXPECT_NE(decoded.owner, message.reader);  // its own buffer
    for (size_t i = 0; i < values.size(); ++i) {
      ASSERT_NEAR(decoded.as<float>()[i], values[i], 0.02f) << compression_name(kind);
    }
  }
  Received poisoned([&](auto out) {
    to_wire(tensor, out, wire::Compression::UNIFORM8);
    auto data = out.getData();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(data.begin() + 8 + 4 * 17, &nan, 4);
  });
  EXPECT_EQ(error_of([&] { from_wire(poisoned.root(), nullptr); }),
            "uniform8 tensor float32[50, 100]: codebook entry 17 is nan");
  // The limits apply to the decoded size, before anything is decoded.
  Received big([&](auto out) { to_wire(tensor, out, wire::Compression::BLOCKWISE8); });
  EXPECT_EQ(error_of([&] { from_wire(big.root(), nullptr, TensorLimits{1000, 1 << 20}); }),
            "shape [50, 100] has more than 1000 elements");
  const auto ints = HostTensor::zeros(DType::Int32, {2});
  capnp::MallocMessageBuilder builder;
  EXPECT_EQ(error_of([&] {
              to_wire(ints, builder.initRoot<wire::Tensor>(), wire::Compression::QUANTILE8);
            }),
            "quantile8 compression needs a floating-point tensor, got int32[2]");
}

TEST(WireTensor, RefusesBadMessages) {
  auto with = [](wire::DType dtype, std::vector<int64_t> shape, size_t data_bytes,
                 uint8_t fill = 0) {
    return [=](wire::Tensor::Builder out) {
      out.setDtype(dtype);
      auto list = out.initShape(static_cast<unsigned>(shape.size()));
      for (size_t i = 0; i < shape.size(); ++i) list.set(i, shape[i]);
      auto data = out.initData(data_bytes);
      std::fill(data.begin(), data.end(), fill);
    };
  };
  auto error = [](const Received& message, TensorLimits limits = {}) {
    return error_of([&] { from_wire(message.root(), message.reader, limits); });
  };
  EXPECT_EQ(error(Received(with(wire::DType::FLOAT32, {2, 3}, 12))),
            "tensor data is 12 bytes but float32[2, 3] needs 24");
  EXPECT_EQ(error(Received(with(wire::DType::FLOAT32, {2, 3}, 28))),
            "tensor data is 28 bytes but float32[2, 3] needs 24");
  EXPECT_EQ(error(Received(with(wire::DType::INT8, {2, -3}, 0))),
            "negative dimension -3 in shape [2, -3]");
  EXPECT_EQ(error(Received(with(static_cast<wire::DType>(10), {1}, 1))), "unknown wire dtype 10");
  EXPECT_EQ(error(Received(with(wire::DType::FLOAT32, {int64_t{1} << 20, int64_t{1} << 20}, 0))),
            "shape [1048576, 1048576] has more than 2147483648 elements");
  EXPECT_EQ(error(Received(with(wire::DType::FLOAT64, {100}, 800)), TensorLimits{1000, 400}),
            "wire tensor: 100 elements of 8 bytes exceed the limit of 400 bytes");
  EXPECT_EQ(error(Received(with(wire::DType::BOOL, {3}, 3, 2))),
            "wire tensor: bool element 0 is 2 (only 0 and 1 are allowed)");
  Received unknown_compression([&](wire::Tensor::Builder out) {
    with(wire::DType::FLOAT32, {1}, 4)(out);
    out.setCompression(static_cast<wire::Compression>(7));
  });
  EXPECT_EQ(error(unknown_compression), "wire tensor: unknown compression 7");
}

TEST(WireTensor, MalformedStructureIsAnHmError) {
  // A valid root struct whose shape list pointer points far outside the segment.
  std::vector<uint64_t> words = {
      uint64_t{4} << 32,                                  // segment table: 1 segment, 4 words
      (uint64_t{1} << 32) | (uint64_t{2} << 48),          // root: struct, 1 data word, 2 pointers
      0,                                                  // dtype float32, compression none
      1 | (0x100000u << 2) | (uint64_t{5} << 32) | (uint64_t{2} << 35),  // shape: List(Int64)
      0,                                                  // data: null
  };
  capnp::FlatArrayMessageReader reader(
      kj::arrayPtr(reinterpret_cast<const capnp::word*>(words.data()), words.size()));
  auto root = reader.getRoot<wire::Tensor>();
  std::string message = error_of([&] { from_wire(root, nullptr); });
  EXPECT_EQ(message.rfind("malformed wire tensor: ", 0), 0u) << message;
}

TEST(WireTensor, SpecsRoundTrip) {
  TensorSpec spec{DType::BFloat16, {-1, 16, 4}};
  capnp::MallocMessageBuilder builder;
  auto schema = builder.initRoot<wire::TensorSchema>();
  to_wire(spec, schema, wire::Compression::FLOAT16);
  EXPECT_EQ(schema.asReader().getCompression(), wire::Compression::FLOAT16);
  EXPECT_EQ(from_wire(schema.asReader()), spec);
  schema.getShape().set(1, -2);
  EXPECT_EQ(error_of([&] { from_wire(schema.asReader()); }),
            "tensor schema: dimension -2 in shape [-1, -2, 4] (use -1 for any size)");
  schema.setDtype(static_cast<wire::DType>(99));
  EXPECT_EQ(error_of([&] { from_wire(schema.asReader()); }), "unknown wire dtype 99");
}

}  // namespace
}  // namespace hm
