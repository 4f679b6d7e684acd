#include "hm/torch/torch_bridge.h"

#include <cstdint>
#include <cstring>
#include <memory>

#include "hm/base/error.h"

namespace hm {
namespace {

struct DTypePair {
  DType dtype;
  torch::ScalarType scalar;
};

constexpr DTypePair kDTypes[] = {
    {DType::Float32, torch::kFloat32},   {DType::Float16, torch::kFloat16},
    {DType::BFloat16, torch::kBFloat16}, {DType::Float64, torch::kFloat64},
    {DType::Int64, torch::kInt64},       {DType::Int32, torch::kInt32},
    {DType::Int16, torch::kInt16},       {DType::Int8, torch::kInt8},
    {DType::UInt8, torch::kUInt8},       {DType::Bool, torch::kBool},
};

bool aligned(const void* data, size_t alignment) {
  return reinterpret_cast<uintptr_t>(data) % alignment == 0;
}

}  // namespace

DType dtype_from_torch(torch::ScalarType type) {
  for (const auto& pair : kDTypes) {
    if (pair.scalar == type) return pair.dtype;
  }
  fail(
      "torch dtype {} has no hm dtype (supported: float32, float16, bfloat16, "
      "float64, int64, int32, int16, int8, uint8, bool)",
      c10::toString(type));
}

torch::ScalarType to_torch(DType dtype) {
  for (const auto& pair : kDTypes) {
    if (pair.dtype == dtype) return pair.scalar;
  }
  fail("invalid dtype code {}", static_cast<int>(dtype));
}

torch::Tensor to_torch(const HostTensor& tensor) {
  const auto options = torch::TensorOptions().dtype(to_torch(tensor.dtype));
  if (tensor.numel() == 0 || !aligned(tensor.data(), dtype_size(tensor.dtype))) {
    auto copy = torch::empty(tensor.shape, options);
    if (tensor.nbytes() > 0) std::memcpy(copy.data_ptr(), tensor.data(), tensor.nbytes());
    return copy;
  }
  // The deleter owns a reference to the bytes' owner; torch calls it when the
  // last tensor sharing this storage goes away.
  auto* data = const_cast<std::byte*>(tensor.data());
  return torch::from_blob(
      data, tensor.shape, [owner = tensor.owner](void*) {}, options);
}

HostTensor from_torch(const torch::Tensor& tensor) {
  auto cpu = tensor.detach();
  if (cpu.layout() != torch::kStrided) cpu = cpu.to_dense();
  cpu = cpu.to(torch::kCPU).contiguous();  // no-ops for a contiguous CPU tensor
  HostTensor out;
  out.dtype = dtype_from_torch(cpu.scalar_type());
  out.shape.assign(cpu.sizes().begin(), cpu.sizes().end());
  const auto* data = static_cast<const std::byte*>(cpu.data_ptr());
  out.bytes = {data, cpu.nbytes()};
  out.owner = std::make_shared<torch::Tensor>(std::move(cpu));
  return out;
}

}  // namespace hm
