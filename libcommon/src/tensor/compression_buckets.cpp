#include "compression_buckets.h"

#include <cstring>

#include "compression_codec.h"
#include "hm/base/error.h"

namespace hm::detail {

void BucketMeans::add(std::span<const float> values, std::span<const uint8_t> codes) {
  const size_t n = values.size();
  size_t i = 0;
  for (; i + kSets <= n; i += kSets) {
    for (int set = 0; set < kSets; ++set) {
      sums_[set][codes[i + set]] += static_cast<double>(values[i + set]);
      ++counts_[set][codes[i + set]];
    }
  }
  for (; i < n; ++i) {
    sums_[0][codes[i]] += static_cast<double>(values[i]);
    ++counts_[0][codes[i]];
  }
}

void BucketMeans::means(float (&codebook)[kCodebook8Length]) const {
  for (int code = 0; code < kCodebook8Length; ++code) {
    double sum = 0;
    uint64_t count = 0;
    for (int set = 0; set < kSets; ++set) {
      sum += sums_[set][code];
      count += counts_[set][code];
    }
    codebook[code] = count == 0 ? 0.0f : static_cast<float>(sum / static_cast<double>(count));
  }
}

std::span<uint8_t> codebook8_codes(std::span<std::byte> out) {
  auto codes = out.subspan(kCodebook8Header);
  return {reinterpret_cast<uint8_t*>(codes.data()), codes.size()};
}

void store_codebook8(std::span<std::byte> out, const float (&codebook)[kCodebook8Length]) {
  store_i64(out, 0, kCodebook8Length);
  std::memcpy(out.data() + 8, codebook, sizeof codebook);
}

size_t codebook8_size(size_t numel) { return kCodebook8Header + numel; }

void codebook8_decode(const CodecTarget& target, std::span<const std::byte> data,
                      std::span<float> out) {
  if (data.size() < 8) {
    fail("{}: data is {} bytes, too short for the 8-byte codebook length", target.describe(),
         data.size());
  }
  const int64_t length = load_i64(data, 0);
  if (length < 1 || length > kCodebook8Length) {
    fail("{}: codebook length {} (it must be 1 to {})", target.describe(), length,
         kCodebook8Length);
  }
  const size_t entries = static_cast<size_t>(length);
  const size_t needed = 8 + 4 * entries + target.numel;
  if (data.size() != needed) {
    fail("{}: data is {} bytes but a codebook of {} entries and {} codes need {}",
         target.describe(), data.size(), entries, target.numel, needed);
  }
  float codebook[kCodebook8Length] = {};
  load_finite_floats(target, "codebook", data, 8, std::span(codebook, entries));
  const auto* codes = reinterpret_cast<const uint8_t*>(data.data() + 8 + 4 * entries);
  if (entries < kCodebook8Length) {
    require_codes_below(target, {codes, target.numel}, entries, "codebook");
  }
  float* values = out.data();
  for (size_t i = 0; i < target.numel; ++i) values[i] = codebook[codes[i]];
}

}  // namespace hm::detail
