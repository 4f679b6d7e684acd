// Conversions between binary32 and the two 16-bit float formats hm carries:
// IEEE binary16 ("half", float16) and bfloat16 (the upper half of a binary32).
// Both directions round to nearest, ties to even; infinities and NaNs are kept
// (a NaN stays a NaN), subnormals are converted exactly. Pure functions; any
// thread.
#pragma once

#include <cstdint>
#include <span>

namespace hm {

inline constexpr float kHalfMax = 65504.0f;

uint16_t float_to_half(float value);
float half_to_float(uint16_t bits);

uint16_t float_to_bfloat16(float value);
float bfloat16_to_float(uint16_t bits);

// Bulk float32 -> float16 with values clamped to +-kHalfMax first (so large
// values and infinities become +-65504, NaN stays NaN): the wire's `float16`
// compression. `out` must have in.size() elements.
void floats_to_halves_clamped(std::span<const float> in, std::span<uint16_t> out);

// Bulk float16 -> float32. `out` must have in.size() elements.
void halves_to_floats(std::span<const uint16_t> in, std::span<float> out);

}  // namespace hm
