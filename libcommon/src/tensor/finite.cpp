#include "hm/tensor/finite.h"

#include <algorithm>
#include <cstring>

#include "hm/base/error.h"

namespace hm {
namespace {

// IEEE layouts: exponent bits (all ones = Inf or NaN) and mantissa bits
// (non-zero with an all-ones exponent = NaN).
template <typename Bits>
struct Layout {
  Bits exponent, mantissa;
};
constexpr Layout<uint32_t> kFloat32{0x7f800000u, 0x007fffffu};
constexpr Layout<uint64_t> kFloat64{0x7ff0000000000000ull, 0x000fffffffffffffull};
constexpr Layout<uint16_t> kFloat16{0x7c00u, 0x03ffu};
constexpr Layout<uint16_t> kBFloat16{0x7f80u, 0x007fu};

// `lane` repeated across a 64-bit word.
template <typename Bits>
constexpr uint64_t repeat(Bits lane) {
  uint64_t word = 0;
  for (size_t i = 0; i < sizeof(uint64_t) / sizeof(Bits); ++i) {
    word |= uint64_t{lane} << (8 * sizeof(Bits) * i);
  }
  return word;
}

// True when any element of `word` has an all-ones exponent: x = (word & e) ^ e
// has a zero lane exactly then, and x's lanes never have their top bit set
// (e excludes the sign bit), so the classic has-a-zero-lane test applies.
// Eight bytes per step with no branch, whether or not the compiler vectorizes.
template <typename Bits>
bool word_has_non_finite(uint64_t word, Layout<Bits> layout) {
  constexpr uint64_t kOnes = repeat<Bits>(1);
  constexpr uint64_t kTops = repeat<Bits>(static_cast<Bits>(Bits{1} << (8 * sizeof(Bits) - 1)));
  const uint64_t exponents = repeat<Bits>(layout.exponent);
  uint64_t x = (word & exponents) ^ exponents;
  return ((x - kOnes) & ~x & kTops) != 0;
}

// Bytes per block of the fast pass: small enough to stay in L1, large enough
// that the per-block branch costs nothing.
constexpr size_t kBlockBytes = 16384;

template <typename Bits>
std::optional<NonFinite> scan(std::span<const std::byte> bytes, Layout<Bits> layout) {
  const size_t count = bytes.size() / sizeof(Bits);
  const std::byte* data = bytes.data();
  auto element = [&](size_t i) {
    Bits v;
    std::memcpy(&v, data + i * sizeof(Bits), sizeof(Bits));
    return v;
  };
  auto first_in = [&](size_t begin, size_t end) -> std::optional<NonFinite> {
    for (size_t i = begin; i < end; ++i) {
      Bits v = element(i);
      if ((v & layout.exponent) == layout.exponent) {
        return NonFinite{static_cast<int64_t>(i), (v & layout.mantissa) != 0};
      }
    }
    return std::nullopt;
  };
  const size_t words = bytes.size() / sizeof(uint64_t);
  for (size_t start = 0; start < words; start += kBlockBytes / sizeof(uint64_t)) {
    const size_t end = std::min(words, start + kBlockBytes / sizeof(uint64_t));
    bool bad = false;
    for (size_t w = start; w < end; ++w) {
      uint64_t word;
      std::memcpy(&word, data + w * sizeof(uint64_t), sizeof(word));
      bad |= word_has_non_finite(word, layout);
    }
    if (bad) {  // slow pass, only over a block that holds one
      constexpr size_t kPerWord = sizeof(uint64_t) / sizeof(Bits);
      return first_in(start * kPerWord, end * kPerWord);
    }
  }
  return first_in(words * sizeof(uint64_t) / sizeof(Bits), count);  // the tail
}

}  // namespace

std::optional<NonFinite> find_non_finite(const HostTensor& tensor) {
  switch (tensor.dtype) {
    case DType::Float32:
      return scan(tensor.bytes, kFloat32);
    case DType::Float64:
      return scan(tensor.bytes, kFloat64);
    case DType::Float16:
      return scan(tensor.bytes, kFloat16);
    case DType::BFloat16:
      return scan(tensor.bytes, kBFloat16);
    default:
      return std::nullopt;
  }
}

void require_finite(std::span<const HostTensor> tensors, std::string_view what,
                    std::string_view why) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (auto bad = find_non_finite(tensors[i])) {
      fail("{}: tensor {} has a non-finite value ({}) at element {}; refused ({})", what, i,
           bad->kind(), bad->index, why);
    }
  }
}

}  // namespace hm
