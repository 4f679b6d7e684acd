// The framed Cap'n Proto tensor stream (`--format capnp`): each tensor is one
// standard Cap'n Proto message whose root is wire::Tensor, in the unpacked
// framing capnp::writeMessage produces (segment table, then segments), one
// message after another. Stock tools read it:
//   capnp convert binary:text schemas/tensor.capnp Tensor < stream
//
// Reading validates every message (segment table against the bytes present,
// a traversal limit set from the buffer size, then from_wire's checks) and
// reports the message that failed: "capnp stream: message 2 at byte 96: ...".
// Pure functions; any thread. Decoded tensors point into one word-aligned
// copy of the input (or into the input itself with the `owner` overload when
// it is already 8-byte aligned) and keep it alive.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hm/tensor/byte_sink.h"
#include "hm/tensor/host_tensor.h"
#include "hm/tensor/limits.h"

namespace hm {

// Sends one message (segment table and segments) to `sink`.
void encode_capnp(const HostTensor& tensor, const ByteSink& sink);
std::string encode_capnp(const HostTensor& tensor);

// Every message in `bytes`, to the end (none for an empty buffer). Throws
// hm::Error when the buffer is not whole words, a message is truncated or
// malformed, or a tensor breaks `limits`.
std::vector<HostTensor> decode_capnp_stream(std::span<const std::byte> bytes,
                                            const TensorLimits& limits = {});

// Same, without copying when `bytes` is 8-byte aligned: tensors point into
// `bytes` and hold `owner`, which must keep `bytes` alive.
std::vector<HostTensor> decode_capnp_stream(std::span<const std::byte> bytes,
                                            std::shared_ptr<const void> owner,
                                            const TensorLimits& limits = {});

}  // namespace hm
