// The wire's compression kinds (wire::Compression, schemas/tensor.capnp):
// names, when to use which, and the codecs between a HostTensor and the
// bytes of Tensor.data.
//
// float16 sends a float32 tensor as IEEE half. meanstd16, uniform8,
// quantile8 and blockwise8 are hivemind's MEANSTD_16BIT, UNIFORM_8BIT,
// QUANTILE_8BIT and BLOCKWISE_8BIT, byte for byte (tensor.capnp says what
// each byte is): they apply to every floating dtype, encode through float32
// and decode to float32 converted to the tensor's dtype. They are lossy and
// cannot carry NaN or infinity; compression_for says what a tensor is sent
// as under a policy, falling back to `none` where a kind does not fit.
//
// The 8-bit encoders and decoders are single-threaded loops that the
// compiler vectorizes (over 1 GB/s of float32 on one core); the decoders
// validate everything a peer controls before they write a byte. Pure
// functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "hm/tensor/host_tensor.h"
#include "hm/wire/tensor.capnp.h"

namespace hm {

// Every kind, in wire order: none, float16, meanstd16, uniform8, quantile8,
// blockwise8.
std::span<const wire::Compression> compression_kinds();

// "none", "float16", "meanstd16", "uniform8", "quantile8", "blockwise8";
// "unknown" for a value this build does not know (a newer peer's schema).
std::string_view compression_name(wire::Compression kind);

// The inverse of compression_name. Throws hm::Error: "unknown compression
// 'x' (choose none, float16, meanstd16, uniform8, quantile8 or blockwise8)".
wire::Compression compression_from_name(std::string_view name);

// uniform8, quantile8 and blockwise8: one byte per value.
bool is_lossy_8bit(wire::Compression kind);

// How a sender compresses the tensors it sends. A plain value.
struct CompressionPolicy {
  wire::Compression kind = wire::Compression::NONE;
  // Tensors with fewer raw bytes than this go uncompressed (hivemind's
  // SizeAdaptiveCompression).
  size_t min_bytes = 0;

  bool operator==(const CompressionPolicy&) const = default;
};

// What `tensor` is actually sent as under `policy`: NONE for a non-floating
// tensor, one under policy.min_bytes, a non-float32 tensor with kind
// float16, or, with a lossy kind (meanstd16 or an 8-bit one), a tensor
// holding NaN or infinity (found with hm/tensor/finite.h) or a float64 value
// beyond float32's range; otherwise policy.kind.
wire::Compression compression_for(const HostTensor& tensor, const CompressionPolicy& policy);

// Bytes of Tensor.data for `tensor` encoded as `kind` (NONE: nbytes()).
// Throws hm::Error where compress_into would refuse the dtype: "uniform8
// compression needs a floating-point tensor, got int32[2]", "float16
// compression needs a float32 tensor, got float64[3]".
size_t compressed_size(const HostTensor& tensor, wire::Compression kind);

// Encodes `tensor` as `kind` into `out`, which must hold exactly
// compressed_size(tensor, kind) bytes. Throws hm::Error for a dtype the kind
// does not take, or, with a lossy kind, a NaN or infinity ("quantile8
// compression of float32[4]: element 2 is NaN (a lossy compression cannot
// carry NaN or Inf)") or a float64 value beyond float32's range.
void compress_into(const HostTensor& tensor, wire::Compression kind, std::span<std::byte> out);

// Decodes `data`, encoded as `kind`, for a tensor of `dtype` and `shape`
// into `out` (exactly numel x dtype_size(dtype) bytes, any alignment),
// validating everything a peer controls first: the dtype (floating for the
// lossy kinds, float32 for float16), every length (codebook, absmax and code
// counts, the total size against the element count), codes below the
// codebook's length, and NaN or infinity in codebooks, absmax values, means
// and stds. Throws hm::Error naming the problem:
//   "blockwise8 tensor float32[10000]: absmax length 2 but 10000 elements need 3"
//   "uniform8 tensor float32[4, 4]: codebook entry 17 is nan"
// `shape` is taken as given: a caller decoding a peer's tensor checks its
// element count and byte size against its TensorLimits first.
void decompress_into(DType dtype, std::span<const int64_t> shape, wire::Compression kind,
                     std::span<const std::byte> data, std::span<std::byte> out);

// decompress_into, into a fresh tensor that owns its bytes.
HostTensor decompress(DType dtype, std::vector<int64_t> shape, wire::Compression kind,
                      std::span<const std::byte> data);

}  // namespace hm
