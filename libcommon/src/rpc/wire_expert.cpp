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

}  // namespace hm::rpc
