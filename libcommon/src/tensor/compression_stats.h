// Private to hm_tensor: the reductions the lossy encoders start with (a
// mean, a sum of squared deviations, a largest magnitude), written as
// fixed-count loops over independent lanes, which gcc vectorizes at -O2
// (its cheap cost model wants the fixed count; a plain running sum would stay
// scalar, since reordering floating-point adds changes the result). Sums are
// kept in double: a float32 running sum loses the mean of values far from 0
// (1000 +- 0.001). Pure functions; any thread.
#pragma once

#include <span>

namespace hm::detail {

// The sum of `values`, in double.
double sum_of(std::span<const float> values);

// The sum of (x - center)^2 over `values`, in double.
double squared_deviation_sum(std::span<const float> values, double center);

// The largest |x| of `values` (0 for none); they must not hold NaN.
float largest_magnitude(std::span<const float> values);

}  // namespace hm::detail
