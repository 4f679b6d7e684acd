#include "compression_bucketize.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "hm/base/error.h"

namespace hm::detail {

Bucketizer::Bucketizer(std::span<const float> borders) : cells_(2 * kLevels, 0) {
  require(borders.size() <= 255, "bucketizer: {} borders (at most 255)", borders.size());
  for (size_t i = 0; i < borders.size(); ++i) {
    const float border = borders[i] + 0.0f;  // -0 counts as +0, as comparisons do
    if (distinct_ == 0 || border != distinct_borders_[distinct_ - 1]) {
      distinct_borders_[distinct_] = border;
      borders_below_[distinct_] = static_cast<uint8_t>(i);
      ++distinct_;
    }
  }
  borders_below_[distinct_] = static_cast<uint8_t>(borders.size());
  std::fill(distinct_borders_ + distinct_, std::end(distinct_borders_),
            std::numeric_limits<float>::infinity());
  if (distinct_ == 0) return;

  center_ = distinct_borders_[distinct_ / 2];
  float widest = 0;
  for (unsigned j = 0; j < distinct_; ++j) {
    widest = std::max(widest, std::abs(distinct_borders_[j] - center_));
  }
  const auto top = static_cast<int32_t>(std::bit_cast<uint32_t>(widest) >> (23 - kMantissaBits));
  base_ = top - (kLevels - 1);

  std::vector<unsigned> per_cell(2 * kLevels, 0);
  for (unsigned j = 0; j < distinct_; ++j) ++per_cell[cell_of(distinct_borders_[j])];
  unsigned below = 0;
  for (size_t c = 0; c < per_cell.size(); ++c) {
    cells_[c] = static_cast<uint16_t>(below | (per_cell[c] << 8));
    crowded_ = crowded_ || per_cell[c] > kSteps;
    sparse_ = sparse_ && per_cell[c] <= 1;
    below += per_cell[c];
  }
}

namespace {

constexpr size_t kRun = 256;  // values whose cells are computed in one go

// The cell of d = x - center: by sign, then by the magnitude's exponent and
// top mantissa bits (its bits shifted), less `base`, clamped to the levels.
inline uint32_t cell_of_offset(float d, int32_t base, int32_t levels, int shift) {
  uint32_t bits;
  std::memcpy(&bits, &d, sizeof bits);  // std::bit_cast stops gcc 12 vectorizing
  int32_t level = static_cast<int32_t>((bits & 0x7fffffffu) >> shift) - base;
  level = level < 0 ? 0 : level;
  level = level > levels - 1 ? levels - 1 : level;
  return (bits >> 31) != 0 ? static_cast<uint32_t>(levels - 1 - level)
                           : static_cast<uint32_t>(levels + level);
}

// The cells of `count` values; with count = kRun the loop has a fixed count
// and vectorizes (the table lookups after it cannot: SSE2 has no gather).
inline void cells_of(const float* __restrict values, size_t count, float center, int32_t base,
                     int32_t levels, int shift, uint32_t* __restrict cells) {
  for (size_t i = 0; i < count; ++i) {
    cells[i] = cell_of_offset(values[i] - center, base, levels, shift);
  }
}

}  // namespace

uint32_t Bucketizer::cell_of(float x) const {
  return cell_of_offset(x - center_, base_, kLevels, 23 - kMantissaBits);
}

uint8_t Bucketizer::count_in_crowded_cell(float x, unsigned first, unsigned count) const {
  const float* begin = distinct_borders_ + first;
  const float* end = begin + count;
  return borders_below_[std::lower_bound(begin, end, x) - distinct_borders_];
}

void Bucketizer::bucketize(std::span<const float> values, std::span<uint8_t> out) const {
  if (distinct_ == 0) {
    std::fill(out.begin(), out.end(), uint8_t{0});
    return;
  }
  // Locals, not members: the byte stores to `out` may alias any member.
  const float* borders = distinct_borders_;
  const uint8_t* below = borders_below_;
  const uint16_t* cells = cells_.data();
  const float center = center_;
  const int32_t base = base_;
  const bool crowded = crowded_;
  const bool sparse = sparse_;
  constexpr int kShift = 23 - kMantissaBits;
  uint32_t run_cells[kRun];
  for (size_t start = 0; start < values.size(); start += kRun) {
    const float* x = values.data() + start;
    uint8_t* codes = out.data() + start;
    const size_t count = std::min(kRun, values.size() - start);
    if (count == kRun) {
      cells_of(x, kRun, center, base, kLevels, kShift, run_cells);
    } else {
      cells_of(x, count, center, base, kLevels, kShift, run_cells);
    }
    if (sparse) {  // at most one border per cell: one comparison
      for (size_t i = 0; i < count; ++i) {
        const unsigned j = cells[run_cells[i]] & 0xffu;
        codes[i] = below[j + (borders[j] < x[i])];
      }
      continue;
    }
    for (size_t i = 0; i < count; ++i) {
      const unsigned cell = cells[run_cells[i]];
      unsigned j = cell & 0xffu;
      if (crowded && (cell >> 8) > kSteps) {
        codes[i] = count_in_crowded_cell(x[i], j, cell >> 8);
        continue;
      }
      j += borders[j] < x[i];
      j += borders[j] < x[i];
      codes[i] = below[j];
    }
  }
}

}  // namespace hm::detail
