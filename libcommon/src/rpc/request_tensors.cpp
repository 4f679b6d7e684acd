#include "hm/rpc/request_tensors.h"

#include <kj/exception.h>

#include "hm/base/error.h"
#include "hm/tensor/finite.h"
#include "hm/tensor/wire_tensor.h"

namespace hm::rpc {
namespace {

// Elements the shape declares, saturated at INT64_MAX; -1 for a negative
// dimension (from_wire names that one).
int64_t declared_elements(capnp::List<int64_t>::Reader shape) {
  int64_t product = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return -1;
    if (__builtin_mul_overflow(product, dim, &product)) product = INT64_MAX;
  }
  return product;
}

// The size checks against the server's flags, before from_wire looks at the
// data: a header that declares 4 GiB costs nothing to refuse.
void check_declared_size(wire::Tensor::Reader tensor, const ServerLimits& limits) {
  int64_t elements = declared_elements(tensor.getShape());
  if (elements < 0) return;
  if (elements > limits.max_elements) {
    fail("{} elements exceed the limit of {} (--max-tensor-elements)", elements,
         limits.max_elements);
  }
  auto code = static_cast<uint16_t>(tensor.getDtype());
  if (code >= kDTypeCount) return;
  uint64_t bytes = static_cast<uint64_t>(elements) * dtype_size(static_cast<DType>(code));
  if (bytes > limits.max_tensor_bytes) {
    fail("{} bytes exceed the limit of {} MiB (--max-tensor-mb)", bytes,
         limits.max_tensor_bytes >> 20);
  }
}

}  // namespace

std::vector<HostTensor> decode_request_tensors(
    capnp::List<wire::Tensor>::Reader list, const ServerLimits& limits, std::string_view what,
    const std::shared_ptr<const void>& message_owner) {
  require(list.size() <= limits.max_tensors,
          "{}: {} tensors exceed the limit of {} (--max-tensors)", what, list.size(),
          limits.max_tensors);
  TensorLimits tensor_limits;
  tensor_limits.max_elements = limits.max_elements;
  tensor_limits.max_bytes = limits.max_tensor_bytes;
  // Without an owner of the message's bytes, tensors are copies, not views
  // into the request message: the RPC system frees the message when the
  // client disconnects (or its connection is dropped) while the runtime may
  // still be reading the tensors on another thread; the ASan build caught
  // that (tests/unit/rpc/disconnect_test.cpp). A view then lives only within
  // this call, to be copied (one memcpy per tensor, no zero-filling) and,
  // unless --allow-nonfinite, scanned in the same pass.
  static const auto borrowed = std::make_shared<const int>(0);
  const auto& owner = message_owner ? message_owner : borrowed;
  std::vector<HostTensor> tensors;
  tensors.reserve(list.size());
  std::optional<std::pair<NonFinite, size_t>> non_finite;  // the first, and its tensor
  for (uint32_t i = 0; i < list.size() && !non_finite; ++i) {
    try {
      auto reader = list[i];
      check_declared_size(reader, limits);
      HostTensor view = from_wire(reader, owner, tensor_limits);
      std::optional<NonFinite> bad;
      if (view.owner != borrowed) {  // a view that holds its bytes, or a buffer of its own
        if (limits.reject_nonfinite) bad = find_non_finite(view);
        tensors.push_back(std::move(view));
      } else if (limits.reject_nonfinite) {
        auto [copy, found] = copy_finding_non_finite(view);
        bad = found;
        tensors.push_back(std::move(copy));
      } else {
        tensors.push_back(HostTensor::copy_of(view.dtype, view.shape, view.bytes));
      }
      if (bad) non_finite = {{*bad, i}};
    } catch (const Error& e) {
      fail("{}: tensor {}: {}", what, i, e.what());
    } catch (const kj::Exception& e) {
      fail("{}: tensor {}: malformed message: {}", what, i, e.getDescription().cStr());
    }
  }
  if (non_finite) {
    fail_non_finite(non_finite->first, non_finite->second, what,
                    "the server runs without --allow-nonfinite");
  }
  return tensors;
}

}  // namespace hm::rpc
