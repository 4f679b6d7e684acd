// Private to hm_tensor. Bucketizer: for each value, how many of up to 255
// ascending borders lie strictly below it (torch.bucketize(x, borders,
// right=False)): the code of quantile8 (its borders are quantiles) and of
// blockwise8 (its borders are the midpoints between code entries).
//
// Not a binary search per value: a table indexed by the top bits of
// d = x - center (center = the middle border) -- its sign, its exponent
// clamped to the 24 octaves below the largest border's, and 7 mantissa bits,
// so 1/128 of an octave per cell -- gives how many borders lie in cells below
// x's, and one or two comparisons with the next borders finish the count
// (one where no cell holds two borders, as for normal data). Rounding
// x - center is monotonic, so a border in a lower cell is below x and one in
// a higher cell is not; only the borders of x's own cell need comparing.
// Equal borders count once in the table (a quantile8 tensor of mostly
// zeros has many), so only distinct borders closer together than 1/128
// octave crowd a cell; a value in a cell of more than two borders takes a
// binary search over just those. Offsetting by the center keeps the cells
// fine where the borders are (values of 1000 +- 0.001).
//
// Build once per tensor (about 12 KiB of tables, a few microseconds); then
// const, any thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace hm::detail {

class Bucketizer {
 public:
  // `borders`: ascending (ties allowed), finite, at most 255 of them.
  explicit Bucketizer(std::span<const float> borders);

  // out[i] = the number of borders strictly below values[i], which must be
  // finite; out.size() == values.size().
  void bucketize(std::span<const float> values, std::span<uint8_t> out) const;

 private:
  static constexpr int kMantissaBits = 7;
  static constexpr int kOctaves = 24;
  static constexpr int kLevels = kOctaves << kMantissaBits;  // per sign
  static constexpr int kSteps = 2;  // comparisons after the table

  uint32_t cell_of(float x) const;
  uint8_t count_in_crowded_cell(float x, unsigned first, unsigned count) const;

  float center_ = 0;
  int32_t base_ = 0;          // the level-0 exponent-and-mantissa bits
  unsigned distinct_ = 0;     // distinct borders
  bool crowded_ = false;      // some cell holds more than kSteps borders
  bool sparse_ = true;        // no cell holds more than one border
  // The distinct borders, then +inf padding for the comparisons.
  float distinct_borders_[256 + kSteps] = {};
  // borders_below_[j]: borders below distinct_borders_[j] (ties counted).
  uint8_t borders_below_[256] = {};
  // Per cell: the distinct borders in lower cells (low byte) and in this
  // cell (high byte).
  std::vector<uint16_t> cells_;
};

}  // namespace hm::detail
