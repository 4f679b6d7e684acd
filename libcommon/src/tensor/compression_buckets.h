// Private to hm_tensor. What uniform8 and quantile8 share: their layout
// (i64 L, f32 codebook[L], u8 codes[n]; tensor.capnp) and its codebook, the
// mean of the values in each bucket (hivemind's average_buckets).
//
// BucketMeans adds up values per code in double, over four interleaved sets
// of sums so that runs of one code (most values of a normal distribution
// fall in a few middle buckets) do not wait on each other's adds. An
// encoder feeds it chunk by chunk, right after coding each chunk, while the
// values are still in cache. One per encoder call; not shared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace hm::detail {

inline constexpr int64_t kCodebook8Length = 256;
inline constexpr size_t kCodebook8Header = 8 + 4 * kCodebook8Length;  // L, codebook

class BucketMeans {
 public:
  // Adds values[i] to the bucket of codes[i].
  void add(std::span<const float> values, std::span<const uint8_t> codes);

  // The mean of each bucket, 0 for a bucket no value fell in.
  void means(float (&codebook)[kCodebook8Length]) const;

 private:
  static constexpr int kSets = 4;
  double sums_[kSets][kCodebook8Length] = {};
  uint64_t counts_[kSets][kCodebook8Length] = {};
};

// Where the codes go in a uniform8/quantile8 `out` (after L and the codebook).
std::span<uint8_t> codebook8_codes(std::span<std::byte> out);

// Writes L = 256 and `codebook` at the front of `out`.
void store_codebook8(std::span<std::byte> out, const float (&codebook)[kCodebook8Length]);

}  // namespace hm::detail
