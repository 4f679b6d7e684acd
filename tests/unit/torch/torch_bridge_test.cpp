#include "hm/torch/torch_bridge.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <cstring>

#include "hm/base/error.h"
#include "hm/torch/torch_device.h"
#include "hm/torch/torch_errors.h"

namespace hm {
namespace {

constexpr DType kAll[] = {DType::Float32, DType::Float16, DType::BFloat16, DType::Float64,
                          DType::Int64,   DType::Int32,   DType::Int16,    DType::Int8,
                          DType::UInt8,   DType::Bool};

HostTensor iota_f32(std::vector<int64_t> shape) {
  auto host = HostTensor::zeros(DType::Float32, std::move(shape));
  auto* data = reinterpret_cast<float*>(host.mutable_data());
  for (int64_t i = 0; i < host.numel(); ++i) data[i] = static_cast<float>(i) * 0.5f;
  return host;
}

TEST(TorchBridge, DTypesRoundTrip) {
  for (DType dtype : kAll) {
    EXPECT_EQ(dtype_from_torch(to_torch(dtype)), dtype) << dtype_name(dtype);
    EXPECT_EQ(c10::elementSize(to_torch(dtype)), dtype_size(dtype)) << dtype_name(dtype);
  }
  EXPECT_EQ(to_torch(DType::Float16), torch::kHalf);
  EXPECT_EQ(to_torch(DType::UInt8), torch::kByte);
}

TEST(TorchBridge, UnsupportedTorchDtypeIsAnError) {
  try {
    from_torch(torch::zeros({2}, torch::kComplexFloat));
    FAIL() << "expected hm::Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("ComplexFloat"), std::string::npos) << error.what();
  }
}

TEST(TorchBridge, ToTorchSharesTheBytes) {
  const auto host = iota_f32({2, 3});
  const auto tensor = to_torch(host);
  EXPECT_EQ(tensor.data_ptr(), static_cast<const void*>(host.data()));
  EXPECT_EQ(tensor.sizes().vec(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(tensor.scalar_type(), torch::kFloat32);
  EXPECT_FLOAT_EQ(tensor[1][2].item<float>(), 2.5f);
}

TEST(TorchBridge, ToTorchKeepsTheOwnerAlive) {
  std::weak_ptr<const void> owner;
  torch::Tensor tensor;
  {
    const auto host = iota_f32({4});
    owner = host.owner;
    tensor = to_torch(host);
  }
  EXPECT_FALSE(owner.expired());
  EXPECT_FLOAT_EQ(tensor[3].item<float>(), 1.5f);
  tensor = torch::Tensor();
  EXPECT_TRUE(owner.expired());
}

TEST(TorchBridge, ToTorchCopiesMisalignedBytes) {
  const auto base = HostTensor::zeros(DType::UInt8, {17});
  auto* raw = base.mutable_data();
  const float values[4] = {1.f, -2.f, 3.5f, 4.f};
  std::memcpy(raw + 1, values, sizeof(values));
  HostTensor odd{DType::Float32, {4}, {raw + 1, sizeof(values)}, base.owner};
  const auto tensor = to_torch(odd);
  EXPECT_NE(tensor.data_ptr(), static_cast<const void*>(raw + 1));
  EXPECT_TRUE(torch::equal(tensor, torch::tensor({1.f, -2.f, 3.5f, 4.f})));
}

TEST(TorchBridge, FromTorchSharesContiguousCpuTensors) {
  auto tensor = torch::arange(12, torch::kFloat32).reshape({3, 4});
  const void* data = tensor.data_ptr();
  const auto host = from_torch(tensor);
  EXPECT_EQ(static_cast<const void*>(host.data()), data);
  EXPECT_EQ(host.shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(host.dtype, DType::Float32);
  EXPECT_EQ(host.nbytes(), 48u);
  tensor = torch::Tensor();  // the HostTensor's owner keeps the storage
  EXPECT_FLOAT_EQ(host.as<float>()[11], 11.f);
}

TEST(TorchBridge, FromTorchSharesARowSlice) {
  const auto tensor = torch::arange(12, torch::kInt64).reshape({4, 3});
  const auto rows = tensor.slice(0, 1, 3);
  const auto host = from_torch(rows);
  EXPECT_EQ(static_cast<const void*>(host.data()), rows.data_ptr());
  EXPECT_EQ(host.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(host.as<int64_t>()[0], 3);
}

TEST(TorchBridge, FromTorchCopiesStridedTensors) {
  const auto tensor = torch::arange(6, torch::kFloat32).reshape({2, 3});
  const auto transposed = tensor.t();
  const auto host = from_torch(transposed);
  EXPECT_NE(static_cast<const void*>(host.data()), tensor.data_ptr());
  EXPECT_EQ(host.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_TRUE(torch::equal(to_torch(host), transposed.contiguous()));
}

TEST(TorchBridge, FromTorchDropsAutogradHistory) {
  const auto leaf = torch::ones({2, 2}, torch::requires_grad());
  const auto host = from_torch(leaf * 3);
  EXPECT_FLOAT_EQ(host.as<float>()[0], 3.f);
  EXPECT_FALSE(to_torch(host).requires_grad());
}

TEST(TorchBridge, EveryDTypeRoundTrips) {
  for (DType dtype : kAll) {
    const auto tensor = torch::arange(6).reshape({2, 3}).remainder(2).to(to_torch(dtype));
    const auto host = from_torch(tensor);
    EXPECT_EQ(host.dtype, dtype);
    EXPECT_EQ(host.nbytes(), 6 * dtype_size(dtype));
    EXPECT_TRUE(torch::equal(to_torch(host), tensor)) << dtype_name(dtype);
  }
}

TEST(TorchBridge, EmptyTensorsRoundTrip) {
  const auto host = from_torch(torch::zeros({0, 4}));
  EXPECT_EQ(host.shape, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(host.nbytes(), 0u);
  EXPECT_EQ(to_torch(host).sizes().vec(), (std::vector<int64_t>{0, 4}));
}

TEST(TorchBridge, OneLineWhatDropsTorchBacktraces) {
  try {
    TORCH_CHECK(false, "bad value 7");
  } catch (const std::exception& error) {
    EXPECT_NE(std::string(error.what()).find('\n'), std::string::npos);  // has more lines
    EXPECT_EQ(one_line_what(error), "bad value 7");
  }
  EXPECT_EQ(one_line_what(std::runtime_error("first\nsecond")), "first");
  EXPECT_EQ(one_line_what(std::runtime_error("")), "unknown error");
}

TEST(TorchDevice, ParsesCpuAndRefusesNonsense) {
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  EXPECT_THROW(parse_device("tpu:0"), UsageError);
  EXPECT_THROW(parse_device("cuda:x"), UsageError);
}

TEST(TorchDevice, CudaWithoutCudaIsAClearError) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA is available here";
  for (const char* name : {"cuda", "cuda:1"}) {
    try {
      parse_device(name);
      FAIL() << "expected hm::Error for " << name;
    } catch (const UsageError& error) {
      FAIL() << "a usage error for " << name << ": " << error.what();
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("CUDA is not available"), std::string::npos)
          << error.what();
    }
  }
}

TEST(TorchBridgeCuda, GpuTensorsAreCopiedToHost) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA";
  const auto device = parse_device("cuda");
  const auto tensor = torch::arange(8, torch::kFloat32).to(device);
  const auto host = from_torch(tensor);
  EXPECT_TRUE(torch::equal(to_torch(host), tensor.cpu()));
  EXPECT_TRUE(torch::equal(to_torch(host).to(device), tensor));
}

}  // namespace
}  // namespace hm
