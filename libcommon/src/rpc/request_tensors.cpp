#include "hm/rpc/request_tensors.h"

#include <memory>

#include "hm/base/error.h"
#include "hm/tensor/wire_tensor.h"

namespace hm::rpc {
namespace {

// The owner given to request tensors: non-null, so that from_wire returns
// views into the request message instead of copies, yet owning nothing. The
// views stay valid while the call is pending because calls are not
// cancellable (the RPC system keeps the request until the call returns), and
// the runtime is done with them before it fulfills the call.
const std::shared_ptr<const void> kHeldByTheCall(std::shared_ptr<const void>(),
                                                 &kHeldByTheCall);

}  // namespace

std::vector<HostTensor> decode_request_tensors(capnp::List<wire::Tensor>::Reader list,
                                               const ServerLimits& limits,
                                               std::string_view what) {
  require(list.size() <= limits.max_tensors, "{}: {} tensors exceeds the limit of {}", what,
          list.size(), limits.max_tensors);
  TensorLimits tensor_limits;
  tensor_limits.max_elements = limits.max_elements;
  std::vector<HostTensor> tensors;
  tensors.reserve(list.size());
  for (auto reader : list) tensors.push_back(from_wire(reader, kHeldByTheCall, tensor_limits));
  return tensors;
}

}  // namespace hm::rpc
