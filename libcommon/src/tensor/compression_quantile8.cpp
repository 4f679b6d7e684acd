// quantile8 (hivemind's Quantile8BitQuantization): 256 buckets of equal
// population, their borders the inner 255 of 257 evenly spaced quantiles,
// the codebook the mean of each bucket's values. tensor.capnp gives the
// layout and the formula.
//
// The quantiles are estimated. hivemind takes quantiles of the quantiles of
// chunks of 10^5 values. hm takes the exact quantiles (numpy.quantile's
// linear interpolation) of a sample: all the values up to kSample of them,
// else one value at a pseudo-random place in each of kSample equal stretches
// of the tensor (a stratified sample: deterministic, and no stride to alias
// with a periodic layout such as rows). With 65536 values a quantile's rank
// is off by about 0.2% (1/sqrt(kSample) at worst, at the median), half a
// bucket, for the cost of sorting the sample (a few ms, against 40 ms to
// code 10^7 values).
#include <algorithm>
#include <vector>

#include "compression_bucketize.h"
#include "compression_buckets.h"
#include "compression_codec.h"

namespace hm::detail {
namespace {

constexpr size_t kSample = 65536;
constexpr size_t kBorders = kCodebook8Length - 1;
constexpr size_t kChunk = 4096;  // values coded, then averaged, while in L1

uint64_t mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::vector<float> sorted_sample(std::span<const float> values) {
  const size_t n = values.size();
  std::vector<float> sample;
  if (n <= kSample) {
    sample.assign(values.begin(), values.end());
  } else {
    sample.resize(kSample);
    for (size_t s = 0; s < kSample; ++s) {
      const size_t begin = s * n / kSample;
      const size_t end = (s + 1) * n / kSample;
      sample[s] = values[begin + mix(s) % (end - begin)];
    }
  }
  std::sort(sample.begin(), sample.end());
  return sample;
}

// The quantiles q = 1/256 ... 255/256 of `sorted`, interpolated linearly
// between the two nearest ranks as numpy.quantile does (rank q x (size - 1)),
// the rank computed exactly.
std::vector<float> quantile_borders(const std::vector<float>& sorted) {
  std::vector<float> borders(kBorders);
  const size_t last = sorted.size() - 1;
  for (size_t k = 0; k < kBorders; ++k) {
    const size_t scaled = (k + 1) * last;  // rank x 256
    const size_t below = scaled / kCodebook8Length;
    const double fraction = static_cast<double>(scaled % kCodebook8Length) / kCodebook8Length;
    const double a = sorted[below];
    const double b = sorted[std::min(below + 1, last)];
    borders[k] = static_cast<float>(a + (b - a) * fraction);
  }
  return borders;
}

}  // namespace

void quantile8_encode(std::span<const float> values, std::span<std::byte> out) {
  float codebook[kCodebook8Length] = {};
  if (values.empty()) {
    store_codebook8(out, codebook);
    return;
  }
  const Bucketizer bucketizer(quantile_borders(sorted_sample(values)));
  uint8_t* codes = codebook8_codes(out).data();
  BucketMeans buckets;
  for (size_t start = 0; start < values.size(); start += kChunk) {
    const size_t count = std::min(kChunk, values.size() - start);
    const auto chunk = values.subspan(start, count);
    bucketizer.bucketize(chunk, {codes + start, count});
    buckets.add(chunk, {codes + start, count});
  }
  buckets.means(codebook);
  store_codebook8(out, codebook);
}

}  // namespace hm::detail
