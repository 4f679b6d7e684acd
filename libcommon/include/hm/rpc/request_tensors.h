// decode_request_tensors: the tensors of an expert call (forward inputs,
// backward inputs and grad_outputs) as the server decodes them, checked
// against the server's limits. This is every byte a client controls in a
// call besides the uid.
#pragma once

#include <string_view>
#include <vector>

#include "hm/rpc/server_limits.h"
#include "hm/tensor/host_tensor.h"
#include "hm/wire/tensor.capnp.h"

namespace hm::rpc {

// Returns views into the request message (no copy): valid while the call is
// pending, which the RPC system guarantees because calls are not
// cancellable. Throws hm::Error naming `what` ("forward inputs: 70 tensors
// exceeds the limit of 64") for anything the limits or the tensor format
// refuse; malformed Cap'n Proto structure comes back as hm::Error too.
std::vector<HostTensor> decode_request_tensors(capnp::List<wire::Tensor>::Reader list,
                                               const ServerLimits& limits,
                                               std::string_view what);

}  // namespace hm::rpc
