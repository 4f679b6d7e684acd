#include "script_expert.h"

#include <torch/script.h>

#include "hm/base/error.h"
#include "hm/torch/torch_errors.h"

namespace hm::moe::detail {
namespace {

template <typename Named>
std::vector<std::pair<std::string, torch::Tensor>> pairs(const Named& list) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : list) out.emplace_back(item.name, item.value);
  return out;
}

// Accepts a tensor, or a tuple or list of tensors, as forward's result.
std::vector<torch::Tensor> to_tensors(const c10::IValue& result) {
  if (result.isTensor()) return {result.toTensor()};
  std::vector<torch::Tensor> out;
  if (result.isTuple()) {
    for (const auto& element : result.toTupleRef().elements()) {
      require(element.isTensor(),
              "TorchScript module returned a tuple holding {}, "
              "expected only tensors",
              element.tagKind());
      out.push_back(element.toTensor());
    }
    return out;
  }
  if (result.isTensorList()) {
    for (const auto& tensor : result.toTensorVector()) out.push_back(tensor);
    return out;
  }
  fail("TorchScript module returned {}, expected a tensor or a tuple of tensors", result.tagKind());
}

class ScriptExpert final : public ExpertModule {
 public:
  explicit ScriptExpert(torch::jit::Module module) : module_(std::move(module)) {}

  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& inputs) override {
    std::vector<c10::IValue> args(inputs.begin(), inputs.end());
    return to_tensors(module_.forward(std::move(args)));
  }
  std::vector<torch::Tensor> parameters() override {
    std::vector<torch::Tensor> out;
    for (const auto& parameter : module_.parameters()) out.push_back(parameter);
    return out;
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() override {
    return pairs(module_.named_parameters());
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_buffers() override {
    return pairs(module_.named_buffers());
  }
  void to(torch::Device device) override { module_.to(device); }
  void train(bool on) override { module_.train(on); }

 private:
  torch::jit::Module module_;
};

}  // namespace

std::unique_ptr<ExpertModule> load_script_expert(const std::string& path) {
  try {
    return std::make_unique<ScriptExpert>(torch::jit::load(path, torch::kCPU));
  } catch (const std::exception& error) {
    fail("cannot load TorchScript module '{}': {}", path, one_line_what(error));
  }
}

}  // namespace hm::moe::detail
