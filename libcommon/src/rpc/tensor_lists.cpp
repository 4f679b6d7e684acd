#include "tensor_lists.h"

#include "hm/tensor/wire_tensor.h"

namespace hm::rpc {

void encode_tensor_list(std::span<const HostTensor> tensors,
                        capnp::List<wire::Tensor>::Builder out, ReferencedTensors& referenced) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (can_reference_on_wire(tensors[i])) {
      to_wire_by_reference(tensors[i], out[i]);
      referenced.push_back(&tensors[i]);
    } else {
      to_wire(tensors[i], out[i]);
    }
  }
}

void pin_referenced(SendPins& pins, const ReferencedTensors& referenced) {
  for (const HostTensor* tensor : referenced) pins.pin(tensor->data(), tensor->owner);
}

std::shared_ptr<const void> message_owner(capnp::List<wire::Tensor>::Reader list,
                                          const IncomingBuffers& buffers) {
  for (auto tensor : list) {
    auto data = tensor.getData();
    if (data.size() > 0) return buffers.owner_of(data.begin(), data.size());
  }
  return nullptr;
}

std::vector<HostTensor> read_tensor_list(capnp::List<wire::Tensor>::Reader list,
                                         const IncomingBuffers& buffers) {
  const auto owner = message_owner(list, buffers);
  std::vector<HostTensor> tensors;
  tensors.reserve(list.size());
  for (auto reader : list) {
    HostTensor view = hm::from_wire(reader, owner);
    // Without an owner a view into the message has none; a decompressed or
    // misaligned tensor owns its fresh buffer already.
    tensors.push_back(view.owner ? std::move(view)
                                 : HostTensor::copy_of(view.dtype, view.shape, view.bytes));
  }
  return tensors;
}

namespace {

// Words for the message's own structure, and for each tensor's struct,
// shape and pointers.
constexpr uint64_t kMessageWords = 64;
constexpr uint64_t kTensorWords = 8;

uint64_t data_words(const HostTensor& tensor) { return (tensor.nbytes() + 7) / 8; }

}  // namespace

capnp::MessageSize message_size_for(std::span<const HostTensor> tensors) {
  uint64_t words = kMessageWords;
  for (const auto& tensor : tensors) {
    words += tensor.shape.size() + kTensorWords;
    if (!can_reference_on_wire(tensor)) words += data_words(tensor);
  }
  return {words, 0};
}

uint64_t message_bytes_bound(std::span<const HostTensor> tensors) {
  uint64_t words = kMessageWords;
  for (const auto& tensor : tensors) {
    words += tensor.shape.size() + kTensorWords + data_words(tensor);
  }
  return words * sizeof(capnp::word);
}

}  // namespace hm::rpc
