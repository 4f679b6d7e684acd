// Private to hm_rpc. The tensor lists of expert calls, as the client and
// the server put them into messages and the client takes them out of
// responses (the server's side of requests: hm/rpc/request_tensors.h).
//
// Loop thread (the connection's), on messages it builds or reads.
#pragma once

#include <span>
#include <vector>

#include <capnp/message.h>

#include "hm/tensor/compression.h"
#include "hm/tensor/host_tensor.h"
#include "hm/wire/tensor.capnp.h"
#include "pinned_write_stream.h"
#include "shared_message_stream.h"

namespace hm::rpc {

// The tensors a message being built refers to rather than copies.
using ReferencedTensors = std::vector<const HostTensor*>;

// How each of a list's tensors goes on the wire: compression_for() of each,
// decided once per message (for a lossy kind it scans the tensor), then
// given to message_size_for, message_bytes_bound and encode_tensor_list.
struct WirePlan {
  std::vector<wire::Compression> kinds;  // one per tensor
};
WirePlan plan_wire(std::span<const HostTensor> tensors, const CompressionPolicy& compression);

// Puts `tensors` into `out`. A tensor that `plan` compresses is encoded
// straight into the message; of the others,
// each one that can_reference_on_wire() (large, aligned, owned) is
// referenced rather than copied and added to `referenced`, the rest are
// copied in (one memcpy each). Throws hm::Error for a tensor too large for
// one message field.
void encode_tensor_list(std::span<const HostTensor> tensors,
                        const WirePlan& plan, capnp::List<wire::Tensor>::Builder out,
                        ReferencedTensors& referenced);

// Pins the owners of `referenced` in `pins` until the connection's stream
// has written the message: call it once the whole message is built, so that
// a message that fails to build pins nothing.
void pin_referenced(SendPins& pins, const ReferencedTensors& referenced);

// The shared owner of the buffer that `list`'s message was read into, from
// `buffers` (the connection's); nullptr when there is none to share.
std::shared_ptr<const void> message_owner(capnp::List<wire::Tensor>::Reader list,
                                          const IncomingBuffers& buffers);

// The tensors of `list`, so that they outlive its message: views that hold
// the message's buffer when `buffers` has it, else copies.
std::vector<HostTensor> read_tensor_list(capnp::List<wire::Tensor>::Reader list,
                                         const IncomingBuffers& buffers);

// A first-segment size hint that fits what encode_tensor_list copies into
// the message (metadata, and the bytes of tensors it compresses or does not
// reference), so a request or response is built in one allocation.
capnp::MessageSize message_size_for(std::span<const HostTensor> tensors, const WirePlan& plan);

// An upper bound on the bytes of a message that holds `tensors` (compressed,
// referenced or copied, as encode_tensor_list puts them) and nothing large
// besides.
uint64_t message_bytes_bound(std::span<const HostTensor> tensors, const WirePlan& plan);

}  // namespace hm::rpc
