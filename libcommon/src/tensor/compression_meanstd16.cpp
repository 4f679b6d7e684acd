// meanstd16 (hivemind's ScaledFloat16Compression, MEANSTD_16BIT): each row
// (the last axis) centred on its mean and divided by its standard deviation,
// then float16, with the means and stds after the values. tensor.capnp gives
// the layout and the formula.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "compression_codec.h"
#include "compression_stats.h"
#include "hm/base/error.h"
#include "hm/tensor/half.h"

namespace hm::detail {
namespace {

// The last dimension (1 for a scalar).
size_t row_length(std::span<const int64_t> shape) {
  return shape.empty() ? 1 : static_cast<size_t>(shape.back());
}

}  // namespace

size_t meanstd16_rows(std::span<const int64_t> shape) {
  size_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= static_cast<size_t>(shape[i]);
  return rows;
}

size_t meanstd16_size(std::span<const int64_t> shape, size_t numel) {
  return 2 * numel + 8 * meanstd16_rows(shape);
}

void meanstd16_encode(std::span<const float> values, std::span<const int64_t> shape,
                      std::span<std::byte> out) {
  const size_t rows = meanstd16_rows(shape);
  const size_t length = row_length(shape);
  std::byte* halves = out.data();
  std::byte* means = halves + 2 * values.size();
  std::byte* stds = means + 4 * rows;
  for (size_t r = 0; r < rows; ++r) {
    const auto row = values.subspan(r * length, length);
    float mean = 0;
    float std = FLT_EPSILON;
    if (length > 0) {
      mean = static_cast<float>(sum_of(row) / static_cast<double>(length));
      // hivemind: the norm of (x - mean) / sqrt(length), at least FLT_EPSILON.
      const double deviation = std::sqrt(squared_deviation_sum(row, mean) / length);
      std = static_cast<float>(std::clamp(deviation, double{FLT_EPSILON}, double{FLT_MAX}));
    }
    for (size_t i = 0; i < length; ++i) {
      const float scaled = std::clamp((row[i] - mean) / std, -kHalfMax, kHalfMax);
      const uint16_t half = float_to_half(scaled);
      std::memcpy(halves + 2 * (r * length + i), &half, 2);
    }
    std::memcpy(means + 4 * r, &mean, 4);
    std::memcpy(stds + 4 * r, &std, 4);
  }
}

void meanstd16_decode(const CodecTarget& target, std::span<const std::byte> data,
                      std::span<float> out) {
  const size_t rows = meanstd16_rows(target.shape);
  const size_t needed = meanstd16_size(target.shape, target.numel);
  if (data.size() != needed) {
    fail("{}: data is {} bytes but {} float16 values and {} means and stds need {}",
         target.describe(), data.size(), target.numel, rows, needed);
  }
  std::vector<float> means(rows), stds(rows);
  load_finite_floats(target, "mean", data, 2 * target.numel, means);
  load_finite_floats(target, "std", data, 2 * target.numel + 4 * rows, stds);
  const size_t length = row_length(target.shape);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t i = 0; i < length; ++i) {
      const size_t at = r * length + i;
      uint16_t half;
      std::memcpy(&half, data.data() + 2 * at, 2);
      // A multiply, then an add, as hivemind's mul_ and add_.
      const float product = half_to_float(half) * stds[r];
      out[at] = product + means[r];
    }
  }
}

}  // namespace hm::detail
