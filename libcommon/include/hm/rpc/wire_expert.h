// Conversions between the expert RPC's wire structs and hm's C++ types.
// Pure functions; any thread (on readers/builders the caller owns).
#pragma once

#include <span>
#include <vector>

#include <capnp/message.h>

#include "hm/rpc/expert_host.h"
#include "hm/wire/expert.capnp.h"

namespace hm::rpc {

void to_wire(const ExpertDescription& description, wire::ExpertInfo::Builder out);
ExpertDescription from_wire(wire::ExpertInfo::Reader info);

// Copies each tensor's bytes into the list (one memcpy per tensor).
void encode_tensor_list(std::span<const HostTensor> tensors,
                        capnp::List<wire::Tensor>::Builder out);

// Copies each tensor out of the message, so the result outlives it.
std::vector<HostTensor> copy_tensor_list(capnp::List<wire::Tensor>::Reader list);

// A first-segment size hint that fits `tensors` and their metadata, so a
// response or request is built in one allocation.
capnp::MessageSize message_size_for(std::span<const HostTensor> tensors);

}  // namespace hm::rpc
