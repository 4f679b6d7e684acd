// What the decompress_<kind> fuzz targets share. An input is a tensor
// header, then the bytes of Tensor.data:
//   byte 0        dtype (its value mod 10, wire order: non-floating ones
//                 reach the dtype refusal)
//   byte 1        rank (mod 4)
//   2 x rank      dimensions, uint16 little-endian
//   the rest      data, decoded as `kind` (hm::decompress)
// A shape over the small limits (fuzz_support.h) is skipped, as from_wire's
// TensorLimits would refuse it. Then the rest is taken as raw elements of
// the dtype, and where compression_for lets `kind` carry them they are
// encoded, decoded again, and checked: the codebook kinds decode within the
// values' range, blockwise8 within their largest magnitude, meanstd16 to
// finite values when the values are modest.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "fuzz_support.h"
#include "hm/base/error.h"
#include "hm/tensor/compression.h"

namespace hm::fuzz {

inline void check_round_trip(wire::Compression kind, DType dtype, std::span<const std::byte> raw) {
  if (!is_floating(dtype)) return;
  const size_t count = std::min<size_t>(raw.size() / dtype_size(dtype), 1 << 16);
  const auto tensor = HostTensor::copy_of(dtype, {static_cast<int64_t>(count)},
                                          raw.first(count * dtype_size(dtype)));
  if (compression_for(tensor, {kind, 0}) != kind) return;
  std::vector<std::byte> wire(compressed_size(tensor, kind));
  compress_into(tensor, kind, wire);
  const auto decoded = decompress(dtype, tensor.shape, kind, wire);
  HM_FUZZ_CHECK(decoded.nbytes() == tensor.nbytes());
  if (dtype != DType::Float32) return;
  const auto x = tensor.as<float>(), y = decoded.as<float>();
  float low = 0, high = 0, largest = 0;
  if (!x.empty()) {
    low = *std::min_element(x.begin(), x.end());
    high = *std::max_element(x.begin(), x.end());
    largest = std::max(std::fabs(low), std::fabs(high));
  }
  for (float v : y) {
    HM_FUZZ_CHECK(std::isfinite(v) || (kind == wire::Compression::MEANSTD16 && largest > 1e30f));
    if (kind == wire::Compression::UNIFORM8 || kind == wire::Compression::QUANTILE8) {
      HM_FUZZ_CHECK(v >= low && v <= high);
    }
    if (kind == wire::Compression::BLOCKWISE8) HM_FUZZ_CHECK(std::fabs(v) <= largest);
  }
}

inline int fuzz_decompress(wire::Compression kind, const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const auto dtype = static_cast<DType>(data[0] % kDTypeCount);
  const size_t rank = data[1] % 4;
  if (size < 2 + 2 * rank) return 0;
  std::vector<int64_t> shape;
  for (size_t i = 0; i < rank; ++i) shape.push_back(data[2 + 2 * i] | (data[3 + 2 * i] << 8));
  const auto payload = std::as_bytes(std::span(data + 2 + 2 * rank, size - 2 - 2 * rank));
  const auto limits = small_limits();
  try {
    const int64_t numel = checked_numel(shape, limits.max_elements);
    const size_t nbytes = checked_nbytes(numel, dtype_size(dtype), limits, "fuzz");
    const auto tensor = decompress(dtype, shape, kind, payload);
    HM_FUZZ_CHECK(tensor.nbytes() == nbytes && tensor.shape == shape && tensor.dtype == dtype);
    if (dtype == DType::Float32 &&
        (kind == wire::Compression::UNIFORM8 || kind == wire::Compression::QUANTILE8)) {
      for (float v : tensor.as<float>()) HM_FUZZ_CHECK(std::isfinite(v));  // codebook entries
    }
  } catch (const Error&) {
  }
  check_round_trip(kind, dtype, payload);
  return 0;
}

}  // namespace hm::fuzz
