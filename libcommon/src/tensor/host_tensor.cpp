#include "hm/tensor/host_tensor.h"

#include <array>
#include <cstring>

#include <fmt/ranges.h>

#include "hm/base/error.h"

namespace hm {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
  bool floating;
};

constexpr std::array<DTypeInfo, kDTypeCount> kDTypes = {{
    {DType::Float32, "float32", 4, true},
    {DType::Float16, "float16", 2, true},
    {DType::BFloat16, "bfloat16", 2, true},
    {DType::Float64, "float64", 8, true},
    {DType::Int64, "int64", 8, false},
    {DType::Int32, "int32", 4, false},
    {DType::Int16, "int16", 2, false},
    {DType::Int8, "int8", 1, false},
    {DType::UInt8, "uint8", 1, false},
    {DType::Bool, "bool", 1, false},
}};

const DTypeInfo& info(DType dtype) {
  auto index = static_cast<size_t>(dtype);
  require(index < kDTypes.size(), "unknown dtype code {}", index);
  return kDTypes[index];
}

}  // namespace

size_t dtype_size(DType dtype) { return info(dtype).size; }

std::string_view dtype_name(DType dtype) { return info(dtype).name; }

bool is_floating(DType dtype) { return info(dtype).floating; }

DType dtype_from_name(std::string_view name) {
  for (const auto& entry : kDTypes) {
    if (entry.name == name) return entry.dtype;
  }
  if (name == "float") return DType::Float32;
  if (name == "half") return DType::Float16;
  if (name == "double") return DType::Float64;
  if (name == "long") return DType::Int64;
  if (name == "int") return DType::Int32;
  fail("unknown dtype '{}' (use float32, float16, bfloat16, float64, int64, int32, "
       "int16, int8, uint8, bool)",
       name);
}

std::string shape_string(std::span<const int64_t> shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// Here and elsewhere in hm/tensor, checks whose message is costly to build
// (a shape, a description) use `if (...) fail(...)`: require() formats its
// arguments even when the check passes.
int64_t checked_numel(std::span<const int64_t> shape, int64_t max_elements) {
  // The product of the non-zero dimensions must stay within the limit too, so
  // that every partial product (strides, offsets) fits in an int64_t.
  int64_t nonzero_product = 1;
  bool has_zero = false;
  for (int64_t dim : shape) {
    if (dim < 0) fail("negative dimension {} in shape {}", dim, shape_string(shape));
    if (dim == 0) {
      has_zero = true;
      continue;
    }
    if (nonzero_product > max_elements / dim) {
      fail("shape {} has more than {} elements", shape_string(shape), max_elements);
    }
    nonzero_product *= dim;
  }
  return has_zero ? 0 : nonzero_product;
}

namespace {

// A tensor owning a fresh buffer of `nbytes`, zero-filled or left as it is.
HostTensor with_buffer(DType dtype, std::vector<int64_t> shape, size_t nbytes, bool zero) {
  auto buffer = zero ? std::make_shared<std::byte[]>(nbytes)
                     : std::make_shared_for_overwrite<std::byte[]>(nbytes);
  HostTensor tensor;
  tensor.dtype = dtype;
  tensor.shape = std::move(shape);
  tensor.bytes = {buffer.get(), nbytes};
  tensor.owner = std::move(buffer);
  return tensor;
}

}  // namespace

HostTensor HostTensor::zeros(DType dtype, std::vector<int64_t> shape) {
  size_t nbytes = static_cast<size_t>(checked_numel(shape)) * dtype_size(dtype);
  return with_buffer(dtype, std::move(shape), nbytes, /*zero=*/true);
}

HostTensor HostTensor::uninitialized(DType dtype, std::vector<int64_t> shape) {
  size_t nbytes = static_cast<size_t>(checked_numel(shape)) * dtype_size(dtype);
  return with_buffer(dtype, std::move(shape), nbytes, /*zero=*/false);
}

HostTensor HostTensor::copy_of(DType dtype, std::vector<int64_t> shape,
                               std::span<const std::byte> data) {
  size_t needed = static_cast<size_t>(checked_numel(shape)) * dtype_size(dtype);
  if (data.size() != needed) {
    fail("tensor data is {} bytes but {}{} needs {}", data.size(), dtype_name(dtype),
         shape_string(shape), needed);
  }
  HostTensor tensor = with_buffer(dtype, std::move(shape), needed, /*zero=*/false);
  if (needed > 0) std::memcpy(tensor.mutable_data(), data.data(), needed);
  return tensor;
}

HostTensor HostTensor::adopt(DType dtype, std::vector<int64_t> shape,
                             std::vector<std::byte> buffer) {
  size_t needed = static_cast<size_t>(checked_numel(shape)) * dtype_size(dtype);
  if (buffer.size() != needed) {
    fail("tensor data is {} bytes but {}{} needs {}", buffer.size(), dtype_name(dtype),
         shape_string(shape), needed);
  }
  auto owned = std::make_shared<std::vector<std::byte>>(std::move(buffer));
  HostTensor tensor;
  tensor.dtype = dtype;
  tensor.shape = std::move(shape);
  tensor.bytes = {owned->data(), owned->size()};
  tensor.owner = std::move(owned);
  return tensor;
}

int64_t HostTensor::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

std::string describe(const HostTensor& tensor) {
  return fmt::format("{}{}", dtype_name(tensor.dtype), shape_string(tensor.shape));
}

void check_bool_bytes(std::span<const std::byte> bytes, std::string_view what) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto value = static_cast<unsigned>(bytes[i]);
    require(value <= 1, "{}: bool element {} is {} (only 0 and 1 are allowed)", what, i,
            value);
  }
}

}  // namespace hm
