// decode_request_tensors: the tensors of an expert call (forward inputs,
// backward inputs and grad_outputs) as the server decodes them, checked
// against the server's limits. This is every byte a client controls in a
// call besides the uid.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "hm/rpc/server_limits.h"
#include "hm/tensor/host_tensor.h"
#include "hm/wire/tensor.capnp.h"

namespace hm::rpc {

// Returns tensors that may outlive the request message (the RPC system
// frees it when the client disconnects mid-call, while the runtime may still
// hold the tensors): views that hold `message_owner` when one is given (a
// shared owner of the message's bytes, independent of the message), else
// copies that own their bytes. Throws hm::Error naming
// `what`, the tensor and the flag for anything the limits or the tensor
// format refuse ("forward inputs: 70 tensors exceed the limit of 64
// (--max-tensors)", "forward inputs: tensor 0: 4294967296 elements exceed the
// limit of 268435456 (--max-tensor-elements)"), checked before anything is
// allocated; with limits.reject_nonfinite, also for a NaN or Inf
// (hm/tensor/finite.h). Malformed Cap'n Proto structure comes back as
// hm::Error too.
std::vector<HostTensor> decode_request_tensors(
    capnp::List<wire::Tensor>::Reader list, const ServerLimits& limits, std::string_view what,
    const std::shared_ptr<const void>& message_owner = nullptr);

}  // namespace hm::rpc
