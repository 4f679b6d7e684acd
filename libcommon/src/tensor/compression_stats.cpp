#include "compression_stats.h"

#include <cmath>
#include <cstddef>

namespace hm::detail {
namespace {

// Lanes of the vectorized loops, and values per fixed-count block.
constexpr size_t kLanes = 8;
constexpr size_t kBlock = 256;

// `fold(lanes, block)` over each whole block, `fold_one(lane0, x)` over the
// tail; returns the lanes, for the caller to combine.
template <typename T, typename Fold, typename FoldOne>
void over_blocks(std::span<const float> values, T (&lanes)[kLanes], Fold fold, FoldOne fold_one) {
  const size_t blocks = values.size() / kBlock;
  for (size_t b = 0; b < blocks; ++b) fold(lanes, values.data() + b * kBlock);
  for (size_t i = blocks * kBlock; i < values.size(); ++i) fold_one(lanes[0], values[i]);
}

}  // namespace

double sum_of(std::span<const float> values) {
  double lanes[kLanes] = {};
  over_blocks(
      values, lanes,
      [](double (&acc)[kLanes], const float* block) {
        for (size_t i = 0; i < kBlock; i += kLanes) {
          for (size_t k = 0; k < kLanes; ++k) acc[k] += static_cast<double>(block[i + k]);
        }
      },
      [](double& acc, float x) { acc += static_cast<double>(x); });
  double total = 0;
  for (double lane : lanes) total += lane;
  return total;
}

double squared_deviation_sum(std::span<const float> values, double center) {
  double lanes[kLanes] = {};
  over_blocks(
      values, lanes,
      [center](double (&acc)[kLanes], const float* block) {
        for (size_t i = 0; i < kBlock; i += kLanes) {
          for (size_t k = 0; k < kLanes; ++k) {
            const double d = static_cast<double>(block[i + k]) - center;
            acc[k] += d * d;
          }
        }
      },
      [center](double& acc, float x) {
        const double d = static_cast<double>(x) - center;
        acc += d * d;
      });
  double total = 0;
  for (double lane : lanes) total += lane;
  return total;
}

float largest_magnitude(std::span<const float> values) {
  float lanes[kLanes] = {};
  over_blocks(
      values, lanes,
      [](float (&acc)[kLanes], const float* block) {
        for (size_t i = 0; i < kBlock; i += kLanes) {
          for (size_t k = 0; k < kLanes; ++k) {
            const float a = std::fabs(block[i + k]);
            acc[k] = acc[k] < a ? a : acc[k];
          }
        }
      },
      [](float& acc, float x) {
        const float a = std::fabs(x);
        acc = acc < a ? a : acc;
      });
  float largest = 0;
  for (float lane : lanes) largest = largest < lane ? lane : largest;
  return largest;
}

}  // namespace hm::detail
