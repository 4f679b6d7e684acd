#include "tensor_lists.h"

#include "hm/tensor/wire_tensor.h"

namespace hm::rpc {

void encode_tensor_list(std::span<const HostTensor> tensors,
                        capnp::List<wire::Tensor>::Builder out, SendPins& pins) {
  std::vector<const HostTensor*> referenced;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (can_reference_on_wire(tensors[i])) {
      to_wire_by_reference(tensors[i], out[i]);
      referenced.push_back(&tensors[i]);
    } else {
      to_wire(tensors[i], out[i]);
    }
  }
  for (const HostTensor* tensor : referenced) pins.pin(tensor->data(), tensor->owner);
}

std::vector<HostTensor> copy_tensor_list(capnp::List<wire::Tensor>::Reader list) {
  std::vector<HostTensor> tensors;
  tensors.reserve(list.size());
  for (auto reader : list) {
    HostTensor view = hm::from_wire(reader, nullptr);
    // A view into the message has no owner; a decompressed tensor owns its
    // fresh buffer already.
    tensors.push_back(view.owner ? std::move(view)
                                 : HostTensor::copy_of(view.dtype, view.shape, view.bytes));
  }
  return tensors;
}

capnp::MessageSize message_size_for(std::span<const HostTensor> tensors) {
  uint64_t words = 64;
  for (const auto& tensor : tensors) {
    words += tensor.shape.size() + 8;
    if (!can_reference_on_wire(tensor)) words += (tensor.nbytes() + 7) / 8;
  }
  return {words, 0};
}

}  // namespace hm::rpc
