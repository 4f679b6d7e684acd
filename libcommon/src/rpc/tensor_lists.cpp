#include "tensor_lists.h"

#include <optional>

#include "hm/tensor/wire_tensor.h"

namespace hm::rpc {

WirePlan plan_wire(std::span<const HostTensor> tensors, const CompressionPolicy& compression) {
  WirePlan plan;
  plan.kinds.reserve(tensors.size());
  for (const auto& tensor : tensors) plan.kinds.push_back(compression_for(tensor, compression));
  return plan;
}

void encode_tensor_list(std::span<const HostTensor> tensors, const WirePlan& plan,
                        capnp::List<wire::Tensor>::Builder out, ReferencedTensors& referenced) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto kind = plan.kinds.at(i);
    if (kind != wire::Compression::NONE) {
      to_wire(tensors[i], out[i], kind);
    } else if (can_reference_on_wire(tensors[i])) {
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

uint64_t words_for(size_t bytes) { return (bytes + 7) / 8; }

// The words of `tensor`'s data as encode_tensor_list puts it: nullopt for a
// tensor it would reference (no words in the first segment).
std::optional<uint64_t> copied_data_words(const HostTensor& tensor, wire::Compression kind) {
  if (kind != wire::Compression::NONE) return words_for(compressed_size(tensor, kind));
  if (can_reference_on_wire(tensor)) return std::nullopt;
  return words_for(tensor.nbytes());
}

}  // namespace

capnp::MessageSize message_size_for(std::span<const HostTensor> tensors, const WirePlan& plan) {
  uint64_t words = kMessageWords;
  for (size_t i = 0; i < tensors.size(); ++i) {
    words += tensors[i].shape.size() + kTensorWords;
    words += copied_data_words(tensors[i], plan.kinds.at(i)).value_or(0);
  }
  return {words, 0};
}

uint64_t message_bytes_bound(std::span<const HostTensor> tensors, const WirePlan& plan) {
  uint64_t words = kMessageWords;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& tensor = tensors[i];
    words += tensor.shape.size() + kTensorWords;
    words += copied_data_words(tensor, plan.kinds.at(i)).value_or(words_for(tensor.nbytes()));
  }
  return words * sizeof(capnp::word);
}

}  // namespace hm::rpc
