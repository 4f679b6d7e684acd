// HostTensor <-> wire::Tensor (schemas/tensor.capnp), TensorSpec <->
// wire::TensorSchema, DType <-> wire::DType.
//
// to_wire copies the tensor's bytes into the message once (initData + one
// memcpy), or, with a compression, encodes them straight into it
// (hm/tensor/compression.h); to_wire_by_reference makes the tensor's own
// bytes a segment of the message. from_wire validates everything a peer
// controls (dtype enum, shape entries, element count and byte size against
// TensorLimits, data size exactly numel x dtype size, bool bytes 0/1) and
// then, for compression `none`, returns a view into the message's bytes that
// holds `owner` (whatever keeps the message alive: the reader, the RPC
// response); without an owner, or when the bytes are misaligned for the
// dtype, it copies. A compressed tensor is decoded into a fresh buffer of its
// own, after decompress_into's checks of the encoded bytes. Malformed Cap'n
// Proto structure (kj exceptions) comes back as hm::Error too.
//
// Pure functions; any thread, with the usual Cap'n Proto rule that one message
// is built or read by one thread at a time.
#pragma once

#include <memory>

#include "hm/tensor/host_tensor.h"
#include "hm/tensor/limits.h"
#include "hm/tensor/tensor_spec.h"
#include "hm/wire/tensor.capnp.h"

namespace hm {

wire::DType to_wire(DType dtype);

// Throws hm::Error for an enum value this build does not know ("unknown wire
// dtype 12").
DType from_wire(wire::DType dtype);

// Fills `out` (dtype, shape, compression none, data). Throws hm::Error when the
// tensor is larger than one Cap'n Proto Data field can hold (2^29 - 1 bytes).
void to_wire(const HostTensor& tensor, wire::Tensor::Builder out);

// Whether to_wire_by_reference can send `tensor`: it has an owner, its bytes
// start on an 8-byte boundary and are a whole number of 8-byte words
// (Cap'n Proto segments are words), and it is large enough (64 KiB) that
// skipping the copy is worth a segment of its own.
bool can_reference_on_wire(const HostTensor& tensor);

// Fills `out` like to_wire, but the message refers to the tensor's own bytes
// instead of a copy (capnp::Orphanage::referenceExternalData): they must stay
// alive, unchanged, until the message has been written out. Only for a tensor
// that can_reference_on_wire(); throws hm::Error otherwise.
void to_wire_by_reference(const HostTensor& tensor, wire::Tensor::Builder out);

// Fills `out` with `tensor` encoded as `compression` (tensor.capnp says how
// each kind encodes; compression_for picks the kind a tensor can take). With
// float16, a float32 tensor is sent as IEEE half, each value clamped to
// +-65504 (NaN stays NaN). Throws hm::Error where compress_into refuses the
// tensor (a dtype the kind does not take, NaN or Inf with a lossy kind) and
// where the encoded tensor is more than one Data field holds.
void to_wire(const HostTensor& tensor, wire::Tensor::Builder out,
             wire::Compression compression);

// Throws hm::Error naming the problem: "tensor data is 12 bytes but
// float32[2, 3] needs 24", "wire tensor: negative dimension -1 in shape [-1]",
// "uniform8 tensor float32[4, 4]: codebook entry 17 is nan".
HostTensor from_wire(wire::Tensor::Reader tensor, std::shared_ptr<const void> owner,
                     const TensorLimits& limits = {});

void to_wire(const TensorSpec& spec, wire::TensorSchema::Builder out,
             wire::Compression compression = wire::Compression::NONE);

// Throws hm::Error for an unknown dtype or a dimension below -1.
TensorSpec from_wire(wire::TensorSchema::Reader schema);

}  // namespace hm
