// Private to hm_tensor: the lossy codecs behind hm/tensor/compression.h, one
// source each (compression_meanstd16.cpp, compression_uniform8.cpp,
// compression_quantile8.cpp, compression_blockwise8.cpp; uniform8 and
// quantile8 share their layout and decoder in compression_buckets.cpp).
//
// compression.cpp checks the dtype, converts the values to float32 and
// refuses non-finite ones before an encoder runs, and hands a decoder a
// float32 output of exactly numel values; each codec checks the bytes of its
// own layout (tensor.capnp). Encoders write exactly their *_size() bytes.
// Pure functions; any thread.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "hm/tensor/host_tensor.h"
#include "hm/wire/tensor.capnp.h"

namespace hm::detail {

static_assert(std::endian::native == std::endian::little,
              "the wire's compressed layouts are little-endian, read and written in place");

// The tensor a decoder call is about, for its error messages.
struct CodecTarget {
  wire::Compression kind;
  DType dtype;
  std::span<const int64_t> shape;
  size_t numel;

  // "uniform8 tensor float32[4, 4]": what each message starts with.
  std::string describe() const;
};

// Fields of Tensor.data at a byte offset, any alignment.
inline int64_t load_i64(std::span<const std::byte> data, size_t offset) {
  int64_t value;
  std::memcpy(&value, data.data() + offset, sizeof value);
  return value;
}
inline void store_i64(std::span<std::byte> out, size_t offset, int64_t value) {
  std::memcpy(out.data() + offset, &value, sizeof value);
}

// Copies `count` float32 values from `data` at `offset` into `out`, and
// throws hm::Error naming the first NaN or infinity: "<target>: <what> entry
// 17 is nan".
void load_finite_floats(const CodecTarget& target, const char* what,
                        std::span<const std::byte> data, size_t offset, std::span<float> out);

// Throws hm::Error when a code is >= `limit` (the codebook's length):
// "<target>: code 200 at element 5 is past the codebook's 17 entries".
void require_codes_below(const CodecTarget& target, std::span<const uint8_t> codes,
                         size_t limit, const char* codebook);

// meanstd16: f16 values[n], f32 means[rows], f32 stds[rows].
size_t meanstd16_rows(std::span<const int64_t> shape);
size_t meanstd16_size(std::span<const int64_t> shape, size_t numel);
void meanstd16_encode(std::span<const float> values, std::span<const int64_t> shape,
                      std::span<std::byte> out);
void meanstd16_decode(const CodecTarget& target, std::span<const std::byte> data,
                      std::span<float> out);

// uniform8 and quantile8: i64 L, f32 codebook[L], u8 codes[n].
size_t codebook8_size(size_t numel);
void uniform8_encode(std::span<const float> values, std::span<std::byte> out);
void quantile8_encode(std::span<const float> values, std::span<std::byte> out);
void codebook8_decode(const CodecTarget& target, std::span<const std::byte> data,
                      std::span<float> out);

// blockwise8: i64 A, i64 C, f32 absmax[A], f32 code[C], u8 codes[n].
size_t blockwise8_size(size_t numel);
void blockwise8_encode(std::span<const float> values, std::span<std::byte> out);
void blockwise8_decode(const CodecTarget& target, std::span<const std::byte> data,
                       std::span<float> out);

}  // namespace hm::detail
