// blockwise8 (hivemind's BlockwiseQuantization, bitsandbytes'
// quantize_blockwise): blocks of 4096 values scaled by their largest
// magnitude, each value the index of the nearest entry of bitsandbytes'
// dynamic code. tensor.capnp gives the layout and the formula.
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "compression_bucketize.h"
#include "compression_codec.h"
#include "compression_stats.h"
#include "hm/base/error.h"

namespace hm::detail {
namespace {

constexpr size_t kBlock = 4096;
constexpr size_t kCodeLength = 256;
constexpr size_t kHeader = 16;  // A, C

using Code = std::array<float, kCodeLength>;

// torch.linspace(start, end, steps) for float32 as torch 1.13 computes it on
// an AVX2 CPU, bit for bit: runs of 8 from a base (start + step x i up to
// the halfway point, end - step x (steps - 1 - i) after it, each with one
// rounding, as fused multiply-adds), base + j x step inside a run (two
// roundings), 16 values a loop; the tail one at a time like a base. The
// double arithmetic below gives exactly those roundings (a float product is
// exact in double; a double sum of two floats rounds to the float sum) and
// cannot be contracted into a different fused multiply-add.
std::vector<float> torch_linspace(float start, float end, int steps) {
  const float step = (end - start) / static_cast<float>(steps - 1);
  const int halfway = steps / 2;
  auto at = [&](int i) {
    return i < halfway ? static_cast<float>(double{start} + double{step} * i)
                       : static_cast<float>(double{end} - double{step} * (steps - 1 - i));
  };
  std::vector<float> out(static_cast<size_t>(steps));
  int i = 0;
  for (; i + 16 <= steps; i += 16) {
    for (int run = i; run < i + 16; run += 8) {
      const float base = at(run);
      for (int j = 0; j < 8; ++j) {
        const auto offset = static_cast<float>(double{step} * j);
        out[static_cast<size_t>(run + j)] = static_cast<float>(double{base} + double{offset});
      }
    }
  }
  for (; i < steps; ++i) out[static_cast<size_t>(i)] = at(i);
  return out;
}

// bitsandbytes' create_dynamic_map(signed=True, n=7): for each of 7
// exponents, the midpoints of linspace(0.1, 1, 2^i + 1) times 10^(i-6),
// with their negatives; then 0 and 1; ascending.
Code build_dynamic_code() {
  constexpr double kScales[] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1};
  std::vector<float> values;
  for (int i = 0; i < 7; ++i) {
    const auto bounds = torch_linspace(0.1f, 1.0f, (1 << i) + 1);
    const auto scale = static_cast<float>(kScales[i]);
    for (size_t k = 0; k + 1 < bounds.size(); ++k) {
      const float mean = (bounds[k] + bounds[k + 1]) / 2.0f;
      values.push_back(scale * mean);
      values.push_back(-scale * mean);
    }
  }
  values.push_back(0.0f);
  values.push_back(1.0f);
  std::sort(values.begin(), values.end());
  Code code{};
  std::copy(values.begin(), values.end(), code.begin());
  return code;
}

struct DynamicCode {
  Code values = build_dynamic_code();
  // The nearest entry's index = the number of midpoints below a value.
  Bucketizer nearest = [this] {
    std::array<float, kCodeLength - 1> midpoints;
    for (size_t k = 0; k + 1 < kCodeLength; ++k) {
      midpoints[k] = (values[k] + values[k + 1]) * 0.5f;
    }
    return Bucketizer(midpoints);
  }();
  uint8_t zero = static_cast<uint8_t>(
      std::find(values.begin(), values.end(), 0.0f) - values.begin());
};

const DynamicCode& dynamic_code() {
  static const DynamicCode code;
  return code;
}

size_t block_count(size_t numel) { return (numel + kBlock - 1) / kBlock; }

}  // namespace

size_t blockwise8_size(size_t numel) {
  return kHeader + 4 * block_count(numel) + 4 * kCodeLength + numel;
}

void blockwise8_encode(std::span<const float> values, std::span<std::byte> out) {
  const DynamicCode& code = dynamic_code();
  const size_t blocks = block_count(values.size());
  store_i64(out, 0, static_cast<int64_t>(blocks));
  store_i64(out, 8, static_cast<int64_t>(kCodeLength));
  std::byte* absmax = out.data() + kHeader;
  std::memcpy(absmax + 4 * blocks, code.values.data(), 4 * kCodeLength);
  auto* codes = reinterpret_cast<uint8_t*>(absmax + 4 * blocks + 4 * kCodeLength);
  float scaled[kBlock];
  for (size_t b = 0; b < blocks; ++b) {
    const size_t start = b * kBlock;
    const size_t count = std::min(kBlock, values.size() - start);
    const float* x = values.data() + start;
    const float largest = largest_magnitude({x, count});
    std::memcpy(absmax + 4 * b, &largest, 4);
    if (largest == 0) {
      std::memset(codes + start, code.zero, count);
      continue;
    }
    if (count == kBlock) {
      for (size_t i = 0; i < kBlock; ++i) scaled[i] = x[i] / largest;
    } else {
      for (size_t i = 0; i < count; ++i) scaled[i] = x[i] / largest;
    }
    code.nearest.bucketize({scaled, count}, {codes + start, count});
  }
}

void blockwise8_decode(const CodecTarget& target, std::span<const std::byte> data,
                       std::span<float> out) {
  if (data.size() < kHeader) {
    fail("{}: data is {} bytes, too short for the 16-byte header (absmax and code lengths)",
         target.describe(), data.size());
  }
  const int64_t absmax_length = load_i64(data, 0);
  const int64_t code_length = load_i64(data, 8);
  const size_t blocks = block_count(target.numel);
  if (absmax_length < 0 || static_cast<uint64_t>(absmax_length) != blocks) {
    fail("{}: absmax length {} but {} elements need {}", target.describe(), absmax_length,
         target.numel, blocks);
  }
  if (code_length < 1 || code_length > static_cast<int64_t>(kCodeLength)) {
    fail("{}: code length {} (it must be 1 to {})", target.describe(), code_length, kCodeLength);
  }
  const auto entries = static_cast<size_t>(code_length);
  const size_t needed = kHeader + 4 * blocks + 4 * entries + target.numel;
  if (data.size() != needed) {
    fail("{}: data is {} bytes but {} absmax values, a code of {} entries and {} codes need {}",
         target.describe(), data.size(), blocks, entries, target.numel, needed);
  }
  std::vector<float> absmax(blocks);
  load_finite_floats(target, "absmax", data, kHeader, absmax);
  float table[kCodeLength] = {};
  load_finite_floats(target, "code", data, kHeader + 4 * blocks, std::span(table, entries));
  const auto* codes = reinterpret_cast<const uint8_t*>(data.data() + needed - target.numel);
  if (entries < kCodeLength) require_codes_below(target, {codes, target.numel}, entries, "code");
  float scaled[kCodeLength];
  for (size_t b = 0; b < blocks; ++b) {
    // code[c] x absmax, once per entry instead of once per value: the same
    // float products.
    for (size_t k = 0; k < kCodeLength; ++k) scaled[k] = table[k] * absmax[b];
    const size_t start = b * kBlock;
    const size_t count = std::min(kBlock, target.numel - start);
    float* values = out.data() + start;
    for (size_t i = 0; i < count; ++i) values[i] = scaled[codes[start + i]];
  }
}

}  // namespace hm::detail
