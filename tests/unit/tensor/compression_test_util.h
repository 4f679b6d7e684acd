// Helpers of the compression tests: normal samples in any floating dtype,
// values as float32, errors, and fields of encoded data.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "hm/tensor/half.h"
#include "hm/tensor/host_tensor.h"

namespace hm::test {

// A tensor of standard normal values (drawn in float32, then converted).
inline HostTensor randn(DType dtype, std::vector<int64_t> shape, uint64_t seed = 0) {
  auto tensor = HostTensor::uninitialized(dtype, std::move(shape));
  std::mt19937_64 generator(seed);
  std::normal_distribution<float> normal;
  std::byte* out = tensor.mutable_data();
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    const float v = normal(generator);
    if (dtype == DType::Float32) {
      std::memcpy(out + 4 * i, &v, 4);
    } else if (dtype == DType::Float64) {
      const double d = v;
      std::memcpy(out + 8 * i, &d, 8);
    } else {
      const uint16_t bits = dtype == DType::Float16 ? float_to_half(v) : float_to_bfloat16(v);
      std::memcpy(out + 2 * i, &bits, 2);
    }
  }
  return tensor;
}

// The values of a floating tensor, in double.
inline std::vector<double> floats_of(const HostTensor& tensor) {
  std::vector<double> values(static_cast<size_t>(tensor.numel()));
  const std::byte* in = tensor.data();
  for (size_t i = 0; i < values.size(); ++i) {
    if (tensor.dtype == DType::Float32) {
      float v;
      std::memcpy(&v, in + 4 * i, 4);
      values[i] = v;
    } else if (tensor.dtype == DType::Float64) {
      std::memcpy(&values[i], in + 8 * i, 8);
    } else {
      uint16_t bits;
      std::memcpy(&bits, in + 2 * i, 2);
      values[i] = tensor.dtype == DType::Float16 ? half_to_float(bits) : bfloat16_to_float(bits);
    }
  }
  return values;
}

inline double mean_squared_error(const HostTensor& a, const HostTensor& b) {
  const auto x = floats_of(a), y = floats_of(b);
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) sum += (x[i] - y[i]) * (x[i] - y[i]);
  return x.empty() ? 0 : sum / static_cast<double>(x.size());
}

inline int64_t i64_at(std::span<const std::byte> data, size_t offset) {
  int64_t v;
  std::memcpy(&v, data.data() + offset, 8);
  return v;
}

inline float f32_at(std::span<const std::byte> data, size_t offset) {
  float v;
  std::memcpy(&v, data.data() + offset, 4);
  return v;
}

inline void put_i64(std::span<std::byte> data, size_t offset, int64_t v) {
  std::memcpy(data.data() + offset, &v, 8);
}

inline void put_f32(std::span<std::byte> data, size_t offset, float v) {
  std::memcpy(data.data() + offset, &v, 4);
}

}  // namespace hm::test
