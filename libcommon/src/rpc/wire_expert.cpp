#include "hm/rpc/wire_expert.h"

#include "hm/tensor/wire_tensor.h"

namespace hm::rpc {

void to_wire(const ExpertDescription& description, wire::ExpertInfo::Builder out) {
  out.setUid(description.uid);
  out.setExpertCls(description.expert_cls);
  auto inputs = out.initInputs(description.inputs.size());
  for (size_t i = 0; i < description.inputs.size(); ++i) to_wire(description.inputs[i], inputs[i]);
  auto outputs = out.initOutputs(description.outputs.size());
  for (size_t i = 0; i < description.outputs.size(); ++i) {
    to_wire(description.outputs[i], outputs[i]);
  }
  out.setSteps(description.steps);
  out.setExamplesProcessed(description.examples_processed);
  out.setMaxBatchSize(description.max_batch_size);
}

ExpertDescription from_wire(wire::ExpertInfo::Reader info) {
  ExpertDescription description;
  description.uid = info.getUid();
  description.expert_cls = info.getExpertCls();
  for (auto schema : info.getInputs()) description.inputs.push_back(hm::from_wire(schema));
  for (auto schema : info.getOutputs()) description.outputs.push_back(hm::from_wire(schema));
  description.steps = info.getSteps();
  description.examples_processed = info.getExamplesProcessed();
  description.max_batch_size = info.getMaxBatchSize();
  return description;
}

void encode_tensor_list(std::span<const HostTensor> tensors,
                        capnp::List<wire::Tensor>::Builder out) {
  for (size_t i = 0; i < tensors.size(); ++i) to_wire(tensors[i], out[i]);
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
    words += (tensor.nbytes() + 7) / 8 + tensor.shape.size() + 8;
  }
  return {words, 0};
}

}  // namespace hm::rpc
