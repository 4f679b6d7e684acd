#include "hm/tensor/compression.h"

#include <array>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <optional>
#include <vector>

#include "compression_codec.h"
#include "hm/base/error.h"
#include "hm/tensor/finite.h"
#include "hm/tensor/half.h"

namespace hm {
namespace {

constexpr std::array kKinds = {wire::Compression::NONE,       wire::Compression::FLOAT16,
                               wire::Compression::MEANSTD16,  wire::Compression::UNIFORM8,
                               wire::Compression::QUANTILE8,  wire::Compression::BLOCKWISE8};
constexpr std::array<std::string_view, kKinds.size()> kNames = {
    "none", "float16", "meanstd16", "uniform8", "quantile8", "blockwise8"};

bool known(wire::Compression kind) { return static_cast<size_t>(kind) < kKinds.size(); }

// meanstd16 and the 8-bit kinds: floating dtypes, through float32, finite.
bool is_lossy(wire::Compression kind) {
  return known(kind) && kind != wire::Compression::NONE && kind != wire::Compression::FLOAT16;
}

void require_known(wire::Compression kind) {
  require(known(kind), "unknown compression {}", static_cast<unsigned>(kind));
}

// Throws unless `kind` can encode `tensor`'s dtype.
void require_encodable(const HostTensor& tensor, wire::Compression kind) {
  require_known(kind);
  if (kind == wire::Compression::FLOAT16 && tensor.dtype != DType::Float32) {
    fail("float16 compression needs a float32 tensor, got {}", describe(tensor));
  }
  if (is_lossy(kind) && !is_floating(tensor.dtype)) {
    fail("{} compression needs a floating-point tensor, got {}", compression_name(kind),
         describe(tensor));
  }
}

// The first float64 value of `tensor` beyond float32's range, if any.
std::optional<int64_t> first_beyond_float32(const HostTensor& tensor) {
  if (tensor.dtype != DType::Float64) return std::nullopt;
  const size_t n = static_cast<size_t>(tensor.numel());
  for (size_t i = 0; i < n; ++i) {
    double v;
    std::memcpy(&v, tensor.data() + 8 * i, 8);
    if (std::fabs(v) > double{FLT_MAX}) return static_cast<int64_t>(i);
  }
  return std::nullopt;
}

// `tensor`'s values as float32: its own bytes when they are float32 and
// aligned, else a converted copy in `scratch`.
std::span<const float> as_float32(const HostTensor& tensor, std::vector<float>& scratch) {
  const size_t n = static_cast<size_t>(tensor.numel());
  if (tensor.dtype == DType::Float32 && reinterpret_cast<uintptr_t>(tensor.data()) % 4 == 0) {
    return tensor.as<float>();
  }
  scratch.resize(n);
  const std::byte* in = tensor.data();
  for (size_t i = 0; i < n; ++i) {
    switch (tensor.dtype) {
      case DType::Float32:
        std::memcpy(&scratch[i], in + 4 * i, 4);
        break;
      case DType::Float16:
      case DType::BFloat16: {
        uint16_t bits;
        std::memcpy(&bits, in + 2 * i, 2);
        scratch[i] = tensor.dtype == DType::Float16 ? half_to_float(bits) : bfloat16_to_float(bits);
        break;
      }
      default: {  // Float64
        double v;
        std::memcpy(&v, in + 8 * i, 8);
        scratch[i] = static_cast<float>(v);
      }
    }
  }
  return scratch;
}

// Writes float32 `values` as `dtype` (floating) into `out`.
void store_as(std::span<const float> values, DType dtype, std::span<std::byte> out) {
  std::byte* to = out.data();
  for (size_t i = 0; i < values.size(); ++i) {
    switch (dtype) {
      case DType::Float32:
        std::memcpy(to + 4 * i, &values[i], 4);
        break;
      case DType::Float16:
      case DType::BFloat16: {
        const uint16_t bits = dtype == DType::Float16 ? float_to_half(values[i])
                                                      : float_to_bfloat16(values[i]);
        std::memcpy(to + 2 * i, &bits, 2);
        break;
      }
      default: {  // Float64
        const double v = values[i];
        std::memcpy(to + 8 * i, &v, 8);
      }
    }
  }
}

void float16_decode(const detail::CodecTarget& target, std::span<const std::byte> data,
                    std::span<float> out) {
  if (target.dtype != DType::Float32) {
    fail("{}: only float32 tensors can be sent as float16", target.describe());
  }
  if (data.size() != 2 * target.numel) {
    fail("{}: data is {} bytes but {} float16 values need {}", target.describe(), data.size(),
         target.numel, 2 * target.numel);
  }
  for (size_t i = 0; i < target.numel; ++i) {
    uint16_t bits;
    std::memcpy(&bits, data.data() + 2 * i, 2);
    out[i] = half_to_float(bits);
  }
}

void decode_floats(const detail::CodecTarget& target, std::span<const std::byte> data,
                  std::span<float> out) {
  switch (target.kind) {
    case wire::Compression::FLOAT16:
      return float16_decode(target, data, out);
    case wire::Compression::MEANSTD16:
      return detail::meanstd16_decode(target, data, out);
    case wire::Compression::UNIFORM8:
    case wire::Compression::QUANTILE8:
      return detail::codebook8_decode(target, data, out);
    default:
      return detail::blockwise8_decode(target, data, out);
  }
}

}  // namespace

namespace detail {

std::string CodecTarget::describe() const {
  return fmt::format("{} tensor {}{}", compression_name(kind), dtype_name(dtype),
                     shape_string(shape));
}

void load_finite_floats(const CodecTarget& target, const char* what,
                        std::span<const std::byte> data, size_t offset, std::span<float> out) {
  if (!out.empty()) std::memcpy(out.data(), data.data() + offset, 4 * out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) fail("{}: {} entry {} is {}", target.describe(), what, i, out[i]);
  }
}

void require_codes_below(const CodecTarget& target, std::span<const uint8_t> codes,
                         size_t limit, const char* codebook) {
  for (size_t i = 0; i < codes.size(); ++i) {
    if (codes[i] >= limit) {
      fail("{}: code {} at element {} is past the {}'s {} entries", target.describe(), codes[i],
           i, codebook, limit);
    }
  }
}

}  // namespace detail

std::span<const wire::Compression> compression_kinds() { return kKinds; }

std::string_view compression_name(wire::Compression kind) {
  return known(kind) ? kNames[static_cast<size_t>(kind)] : "unknown";
}

wire::Compression compression_from_name(std::string_view name) {
  for (size_t i = 0; i < kKinds.size(); ++i) {
    if (kNames[i] == name) return kKinds[i];
  }
  fail("unknown compression '{}' (choose none, float16, meanstd16, uniform8, quantile8 or "
       "blockwise8)",
       name);
}

bool is_lossy_8bit(wire::Compression kind) {
  return kind == wire::Compression::UNIFORM8 || kind == wire::Compression::QUANTILE8 ||
         kind == wire::Compression::BLOCKWISE8;
}

wire::Compression compression_for(const HostTensor& tensor, const CompressionPolicy& policy) {
  const auto kind = policy.kind;
  if (kind == wire::Compression::NONE || !known(kind) || !is_floating(tensor.dtype) ||
      tensor.nbytes() < policy.min_bytes) {
    return wire::Compression::NONE;
  }
  if (kind == wire::Compression::FLOAT16) {
    return tensor.dtype == DType::Float32 ? kind : wire::Compression::NONE;
  }
  if (find_non_finite(tensor) || first_beyond_float32(tensor)) return wire::Compression::NONE;
  return kind;
}

size_t compressed_size(const HostTensor& tensor, wire::Compression kind) {
  require_encodable(tensor, kind);
  const auto numel = static_cast<size_t>(tensor.numel());
  switch (kind) {
    case wire::Compression::NONE:
      return tensor.nbytes();
    case wire::Compression::FLOAT16:
      return 2 * numel;
    case wire::Compression::MEANSTD16:
      return detail::meanstd16_size(tensor.shape, numel);
    case wire::Compression::UNIFORM8:
    case wire::Compression::QUANTILE8:
      return detail::codebook8_size(numel);
    default:
      return detail::blockwise8_size(numel);
  }
}

void compress_into(const HostTensor& tensor, wire::Compression kind, std::span<std::byte> out) {
  const size_t size = compressed_size(tensor, kind);
  require(out.size() == size, "{} compression of {}: the output is {} bytes but needs {}",
          compression_name(kind), describe(tensor), out.size(), size);
  if (kind == wire::Compression::NONE) {
    if (size > 0) std::memcpy(out.data(), tensor.data(), size);
    return;
  }
  if (kind == wire::Compression::FLOAT16) {
    auto* halves = reinterpret_cast<uint16_t*>(out.data());
    if (reinterpret_cast<uintptr_t>(halves) % 2 == 0) {
      floats_to_halves_clamped(tensor.as<float>(), {halves, out.size() / 2});
      return;
    }
    std::vector<uint16_t> aligned(out.size() / 2);
    floats_to_halves_clamped(tensor.as<float>(), aligned);
    std::memcpy(out.data(), aligned.data(), out.size());
    return;
  }
  if (auto bad = find_non_finite(tensor)) {
    fail("{} compression of {}: element {} is {} (a lossy compression cannot carry NaN or Inf)",
         compression_name(kind), describe(tensor), bad->index, bad->kind());
  }
  if (auto beyond = first_beyond_float32(tensor)) {
    fail("{} compression of {}: element {} is beyond float32's range", compression_name(kind),
         describe(tensor), *beyond);
  }
  std::vector<float> scratch;
  const auto values = as_float32(tensor, scratch);
  switch (kind) {
    case wire::Compression::MEANSTD16:
      return detail::meanstd16_encode(values, tensor.shape, out);
    case wire::Compression::UNIFORM8:
      return detail::uniform8_encode(values, out);
    case wire::Compression::QUANTILE8:
      return detail::quantile8_encode(values, out);
    default:
      return detail::blockwise8_encode(values, out);
  }
}

void decompress_into(DType dtype, std::span<const int64_t> shape, wire::Compression kind,
                     std::span<const std::byte> data, std::span<std::byte> out) {
  require_known(kind);
  const auto numel = static_cast<size_t>(checked_numel(shape));
  const size_t nbytes = numel * dtype_size(dtype);
  require(out.size() == nbytes, "{} tensor {}{}: the output is {} bytes but needs {}",
          compression_name(kind), dtype_name(dtype), shape_string(shape), out.size(), nbytes);
  if (kind == wire::Compression::NONE) {
    if (data.size() != nbytes) {
      fail("tensor data is {} bytes but {}{} needs {}", data.size(), dtype_name(dtype),
           shape_string(shape), nbytes);
    }
    if (dtype == DType::Bool) check_bool_bytes(data, "wire tensor");
    if (nbytes > 0) std::memcpy(out.data(), data.data(), nbytes);
    return;
  }
  const detail::CodecTarget target{kind, dtype, shape, numel};
  if (kind != wire::Compression::FLOAT16 && !is_floating(dtype)) {
    fail("{}: only floating-point tensors can be compressed this way", target.describe());
  }
  const bool direct =
      dtype == DType::Float32 && reinterpret_cast<uintptr_t>(out.data()) % 4 == 0;
  if (direct) {
    decode_floats(target, data, {reinterpret_cast<float*>(out.data()), numel});
    return;
  }
  std::vector<float> values(numel);
  decode_floats(target, data, values);
  store_as(values, dtype, out);
}

HostTensor decompress(DType dtype, std::vector<int64_t> shape, wire::Compression kind,
                      std::span<const std::byte> data) {
  HostTensor tensor = HostTensor::uninitialized(dtype, std::move(shape));
  decompress_into(dtype, tensor.shape, kind, data, {tensor.mutable_data(), tensor.nbytes()});
  return tensor;
}

}  // namespace hm
