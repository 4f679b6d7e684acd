// Conversions between the expert RPC's wire structs and hm's C++ types
// (tensor lists: src/rpc/tensor_lists.h).
// Pure functions; any thread (on readers/builders the caller owns).
#pragma once

#include "hm/rpc/expert_host.h"
#include "hm/wire/expert.capnp.h"

namespace hm::rpc {

// Floating tensors' schemas carry `compression` (what the server sends them
// as); the others say none.
void to_wire(const ExpertDescription& description, wire::ExpertInfo::Builder out,
             wire::Compression compression = wire::Compression::NONE);

// description.compression is that of the first floating output schema.
ExpertDescription from_wire(wire::ExpertInfo::Reader info);

}  // namespace hm::rpc
