#include "hm/rpc/wire_expert.h"

#include "hm/tensor/wire_tensor.h"

namespace hm::rpc {

namespace {

void specs_to_wire(const std::vector<TensorSpec>& specs,
                   capnp::List<wire::TensorSchema>::Builder out, wire::Compression compression) {
  for (size_t i = 0; i < specs.size(); ++i) {
    to_wire(specs[i], out[i],
            is_floating(specs[i].dtype) ? compression : wire::Compression::NONE);
  }
}

}  // namespace

void to_wire(const ExpertDescription& description, wire::ExpertInfo::Builder out,
             wire::Compression compression) {
  out.setUid(description.uid);
  out.setExpertCls(description.expert_cls);
  specs_to_wire(description.inputs, out.initInputs(description.inputs.size()), compression);
  specs_to_wire(description.outputs, out.initOutputs(description.outputs.size()), compression);
  out.setSteps(description.steps);
  out.setExamplesProcessed(description.examples_processed);
  out.setMaxBatchSize(description.max_batch_size);
}

ExpertDescription from_wire(wire::ExpertInfo::Reader info) {
  ExpertDescription description;
  description.uid = info.getUid();
  description.expert_cls = info.getExpertCls();
  for (auto schema : info.getInputs()) description.inputs.push_back(hm::from_wire(schema));
  for (auto schema : info.getOutputs()) {
    description.outputs.push_back(hm::from_wire(schema));
    if (description.compression == wire::Compression::NONE &&
        is_floating(description.outputs.back().dtype)) {
      description.compression = schema.getCompression();
    }
  }
  description.steps = info.getSteps();
  description.examples_processed = info.getExamplesProcessed();
  description.max_batch_size = info.getMaxBatchSize();
  return description;
}

}  // namespace hm::rpc
