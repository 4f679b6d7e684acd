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

// Bytes per block of the fast pass: small enough to stay in L1, large enough
// that the per-block branch costs nothing.
constexpr size_t kBlockBytes = 16384;

// Whether a whole block holds an element with an all-ones exponent: a
// fixed-count loop with no branch over the lanes, which gcc vectorizes even
// at -O2 (its cheap cost model wants the fixed count); hm-serve(1) NOTES
// says how fast.
template <typename Bits>
bool block_has_non_finite(const std::byte* block, Layout<Bits> layout) {
  Bits bad = 0;
  for (size_t i = 0; i < kBlockBytes / sizeof(Bits); ++i) {
    Bits v;
    std::memcpy(&v, block + i * sizeof(Bits), sizeof(Bits));
    bad |= static_cast<Bits>((v & layout.exponent) == layout.exponent);
  }
  return bad != 0;
}

template <typename Bits>
std::optional<NonFinite> scan(std::span<const std::byte> bytes, Layout<Bits> layout) {
  const size_t count = bytes.size() / sizeof(Bits);
  const std::byte* data = bytes.data();
  auto first_in = [&](size_t begin, size_t end) -> std::optional<NonFinite> {
    for (size_t i = begin; i < end; ++i) {
      Bits v;
      std::memcpy(&v, data + i * sizeof(Bits), sizeof(Bits));
      if ((v & layout.exponent) == layout.exponent) {
        return NonFinite{static_cast<int64_t>(i), (v & layout.mantissa) != 0};
      }
    }
    return std::nullopt;
  };
  constexpr size_t kPerBlock = kBlockBytes / sizeof(Bits);
  const size_t blocks = bytes.size() / kBlockBytes;
  for (size_t b = 0; b < blocks; ++b) {
    if (block_has_non_finite(data + b * kBlockBytes, layout)) {  // slow pass, over that block
      return first_in(b * kPerBlock, (b + 1) * kPerBlock);
    }
  }
  return first_in(blocks * kPerBlock, count);  // the tail, shorter than a block
}

// Copies `from` to `to` block by block, scanning each copied block while it
// is in L1; stops after the first block with a non-finite element.
template <typename Bits>
std::optional<NonFinite> copy_scanning(std::span<const std::byte> from, std::byte* to,
                                       Layout<Bits> layout) {
  for (size_t start = 0; start < from.size(); start += kBlockBytes) {
    const size_t length = std::min(kBlockBytes, from.size() - start);
    std::memcpy(to + start, from.data() + start, length);
    if (auto bad = scan(std::span<const std::byte>(to + start, length), layout)) {
      bad->index += static_cast<int64_t>(start / sizeof(Bits));
      return bad;
    }
  }
  return std::nullopt;
}

// Runs `fn(layout)` with the layout of `dtype`; nullopt for a dtype that is
// always finite.
template <typename Fn>
std::optional<NonFinite> with_layout(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::Float32:
      return fn(kFloat32);
    case DType::Float64:
      return fn(kFloat64);
    case DType::Float16:
      return fn(kFloat16);
    case DType::BFloat16:
      return fn(kBFloat16);
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<NonFinite> find_non_finite(const HostTensor& tensor) {
  return with_layout(tensor.dtype, [&](auto layout) { return scan(tensor.bytes, layout); });
}

std::pair<HostTensor, std::optional<NonFinite>> copy_finding_non_finite(const HostTensor& tensor) {
  HostTensor copy = HostTensor::uninitialized(tensor.dtype, tensor.shape);
  bool copied = false;
  auto bad = with_layout(tensor.dtype, [&](auto layout) {
    copied = true;
    return copy_scanning(tensor.bytes, copy.mutable_data(), layout);
  });
  if (!copied && tensor.nbytes() > 0) std::memcpy(copy.mutable_data(), tensor.data(), tensor.nbytes());
  return {std::move(copy), bad};
}

void fail_non_finite(const NonFinite& bad, size_t index, std::string_view what,
                     std::string_view why) {
  fail("{}: tensor {} has a non-finite value ({}) at element {}; refused ({})", what, index,
       bad.kind(), bad.index, why);
}

void require_finite(std::span<const HostTensor> tensors, std::string_view what,
                    std::string_view why) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (auto bad = find_non_finite(tensors[i])) fail_non_finite(*bad, i, what, why);
  }
}

}  // namespace hm
