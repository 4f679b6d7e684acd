#include "hm/tensor/half.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace hm {
namespace {

// Shifts `value` right by `shift` bits, rounding to nearest, ties to even.
uint32_t shift_round_even(uint32_t value, unsigned shift) {
  uint32_t quotient = value >> shift;
  uint32_t remainder = value & ((uint32_t{1} << shift) - 1);
  uint32_t half = uint32_t{1} << (shift - 1);
  if (remainder > half || (remainder == half && (quotient & 1))) ++quotient;
  return quotient;
}

}  // namespace

uint16_t float_to_half(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) {  // NaN: keep it quiet, keep the top payload bits
    return static_cast<uint16_t>(sign | 0x7e00 | ((magnitude >> 13) & 0x3ff));
  }
  if (magnitude >= 0x477ff000) return sign | 0x7c00;  // >= 65520 rounds to infinity
  if (magnitude >= 0x38800000) {                      // normal half (>= 2^-14)
    // Rebias the exponent (127 -> 15) and round the mantissa from 23 to 10
    // bits; a carry out of the mantissa correctly bumps the exponent.
    return static_cast<uint16_t>(sign | shift_round_even(magnitude - 0x38000000, 13));
  }
  if (magnitude <= 0x33000000) return sign;  // <= 2^-25 rounds to zero
  // Subnormal half: the value in units of 2^-24, rounded.
  uint32_t exponent = magnitude >> 23;  // 102..112
  uint32_t mantissa = (magnitude & 0x7fffff) | 0x800000;
  return static_cast<uint16_t>(sign | shift_round_even(mantissa, 126 - exponent));
}

float half_to_float(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0) {  // zero or subnormal: mantissa x 2^-24, exact in binary32
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
  }
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000 | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t float_to_bfloat16(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffff) > 0x7f800000) {  // NaN: truncate and keep it quiet
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  }
  // Rounding may carry into the exponent; past the largest finite value that
  // correctly yields infinity.
  return static_cast<uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

float bfloat16_to_float(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

void floats_to_halves_clamped(std::span<const float> in, std::span<uint16_t> out) {
  for (size_t i = 0; i < in.size(); ++i) {
    out[i] = float_to_half(std::clamp(in[i], -kHalfMax, kHalfMax));
  }
}

void halves_to_floats(std::span<const uint16_t> in, std::span<float> out) {
  for (size_t i = 0; i < in.size(); ++i) out[i] = half_to_float(in[i]);
}

}  // namespace hm
