// uniform8 (hivemind's Uniform8BitQuantization): codes in uniform steps of
// 6 standard deviations / 256 around the mean, the codebook the mean of each
// bucket's values. tensor.capnp gives the layout and the formula.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "compression_buckets.h"
#include "compression_codec.h"
#include "compression_stats.h"

namespace hm::detail {
namespace {

constexpr size_t kChunk = 4096;  // values coded, then averaged, while in L1
constexpr float kZeroPoint = 128;
constexpr float kRangeInSigmas = 6;

// Adding and subtracting 1.5 x 2^23 rounds a float of magnitude below 2^22 to
// an integer, half to even (the default rounding of the sum), in two
// instructions that vectorize; std::nearbyint needs SSE4.1 to do that.
constexpr float kRoundingMagic = 12582912.0f;

// code = clamp(round-half-even((x - mean) * inverse_scale) + 128, 0, 255),
// clamped before rounding (the same, for integer bounds). `divide`: (x -
// mean) / scale instead, for a scale so small that its inverse overflows.
// Two loops over `scaled` (L1-resident): gcc -O2 vectorizes the clamp and
// the rounding apart, not together. Inlined with count = kChunk, each has a
// fixed count and vectorizes.
template <bool divide>
inline void quantize(const float* __restrict values, size_t count, float mean, float scale,
                     float inverse_scale, float* __restrict scaled, uint8_t* __restrict codes) {
  for (size_t i = 0; i < count; ++i) {
    float v = divide ? (values[i] - mean) / scale : (values[i] - mean) * inverse_scale;
    v = v < -kZeroPoint ? -kZeroPoint : v;
    scaled[i] = v > kZeroPoint - 1 ? kZeroPoint - 1 : v;
  }
  for (size_t i = 0; i < count; ++i) {
    const float rounded = (scaled[i] + kRoundingMagic) - kRoundingMagic;
    codes[i] = static_cast<uint8_t>(static_cast<int32_t>(rounded) + 128);
  }
}

template <bool divide>
void quantize_all(std::span<const float> values, float mean, float scale, uint8_t* codes,
                  BucketMeans& buckets) {
  const float inverse_scale = 1.0f / scale;
  float scaled[kChunk];
  const size_t whole = values.size() / kChunk * kChunk;
  for (size_t start = 0; start < whole; start += kChunk) {
    quantize<divide>(values.data() + start, kChunk, mean, scale, inverse_scale, scaled,
                     codes + start);
    buckets.add(values.subspan(start, kChunk), {codes + start, kChunk});
  }
  const size_t rest = values.size() - whole;
  quantize<divide>(values.data() + whole, rest, mean, scale, inverse_scale, scaled,
                   codes + whole);
  buckets.add(values.subspan(whole), {codes + whole, rest});
}

}  // namespace

void uniform8_encode(std::span<const float> values, std::span<std::byte> out) {
  const size_t n = values.size();
  float codebook[kCodebook8Length] = {};
  uint8_t* codes = codebook8_codes(out).data();
  if (n == 0) {
    store_codebook8(out, codebook);
    return;
  }
  const double mean = sum_of(values) / static_cast<double>(n);
  const auto shift = static_cast<float>(mean);
  float scale = 0;
  if (n > 1) {
    // hivemind centres in float32 (x - shift), then takes the norm.
    const double norm = std::sqrt(squared_deviation_sum(values, shift));
    const double std_unbiased = norm / std::sqrt(static_cast<double>(n - 1));
    scale = static_cast<float>(kRangeInSigmas * std_unbiased / kCodebook8Length);
  }
  if (!(scale > 0)) {  // one value, or all equal: every code is the zero point
    std::memset(codes, static_cast<int>(kZeroPoint), n);
    codebook[static_cast<int>(kZeroPoint)] = static_cast<float>(mean);
    store_codebook8(out, codebook);
    return;
  }
  BucketMeans buckets;
  if (std::isfinite(1.0f / scale)) {
    quantize_all<false>(values, shift, scale, codes, buckets);
  } else {
    quantize_all<true>(values, shift, scale, codes, buckets);
  }
  buckets.means(codebook);
  store_codebook8(out, codebook);
}

}  // namespace hm::detail
