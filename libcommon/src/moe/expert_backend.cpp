#include "hm/moe/expert_backend.h"

#include <torch/autograd.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "hm/base/error.h"

namespace hm::moe {
namespace {

constexpr double kAdamLr = 1e-3;
constexpr double kSgdLr = 0.01;

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& config,
                                                        std::vector<torch::Tensor> params) {
  if (config.name == "adam") {
    return std::make_unique<torch::optim::Adam>(
        std::move(params), torch::optim::AdamOptions(config.lr.value_or(kAdamLr)));
  }
  if (config.name == "sgd") {
    return std::make_unique<torch::optim::SGD>(
        std::move(params), torch::optim::SGDOptions(config.lr.value_or(kSgdLr)));
  }
  return nullptr;  // "none"
}

int64_t batch_rows(const std::vector<torch::Tensor>& inputs) {
  require(!inputs.empty() && inputs[0].dim() >= 1, "expert called without batched inputs");
  return inputs[0].size(0);
}

}  // namespace

void validate(const OptimizerConfig& config) {
  if (config.name != "adam" && config.name != "sgd" && config.name != "none") {
    throw UsageError(fmt::format("unknown optimizer '{}' (valid: adam, sgd, none)", config.name));
  }
  if (config.lr && !(*config.lr > 0)) {
    throw UsageError(fmt::format("learning rate must be positive, got {}", *config.lr));
  }
  if (config.clip_grad_norm && !(*config.clip_grad_norm > 0)) {
    throw UsageError(
        fmt::format("clip_grad_norm must be positive, got {}", *config.clip_grad_norm));
  }
}

ExpertBackend::ExpertBackend(std::unique_ptr<ExpertModule> module, BackendOptions options)
    : options_(std::move(options)), module_(std::move(module)) {
  validate(options_.optimizer);
  module_->to(options_.device);
  parameters_ = module_->parameters();
  if (options_.optimizer.name == "none") {
    for (auto& parameter : parameters_) parameter.requires_grad_(false);
  } else {
    optimizer_ = make_optimizer(options_.optimizer, parameters_);
  }
  if (options_.outputs.empty()) {
    options_.outputs = infer_output_specs(*module_, options_.inputs, options_.device);
  }
}

ExpertBackend::~ExpertBackend() = default;

std::vector<torch::Tensor> ExpertBackend::forward(const std::vector<torch::Tensor>& inputs) {
  batch_rows(inputs);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> on_device;
  on_device.reserve(inputs.size());
  for (const auto& input : inputs) on_device.push_back(input.to(options_.device));
  return module_->forward(on_device);
}

std::vector<torch::Tensor> ExpertBackend::backward(const std::vector<torch::Tensor>& inputs,
                                                   const std::vector<torch::Tensor>& grad_outputs) {
  const int64_t rows = batch_rows(inputs);
  torch::AutoGradMode grad_mode(true);
  std::vector<torch::Tensor> leaves;
  leaves.reserve(inputs.size());
  for (const auto& input : inputs) {
    auto leaf = input.to(options_.device).detach();
    if (leaf.is_floating_point()) leaf.requires_grad_(true);
    leaves.push_back(std::move(leaf));
  }
  const auto outputs = module_->forward(leaves);
  require(outputs.size() == grad_outputs.size(),
          "expert returned {} outputs but {} output gradients were given", outputs.size(),
          grad_outputs.size());
  std::vector<torch::Tensor> roots, grads;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].requires_grad()) continue;
    roots.push_back(outputs[i]);
    grads.push_back(grad_outputs[i].to(outputs[i].device(), outputs[i].scalar_type()));
  }
  if (!roots.empty()) torch::autograd::backward(roots, grads);

  std::vector<torch::Tensor> grad_inputs;
  grad_inputs.reserve(leaves.size());
  for (const auto& leaf : leaves) {
    grad_inputs.push_back(leaf.grad().defined() ? leaf.grad() : torch::zeros_like(leaf));
  }
  apply_gradients(rows);
  return grad_inputs;
}

void ExpertBackend::apply_gradients(int64_t rows) {
  if (optimizer_) {
    if (options_.optimizer.clip_grad_norm) {
      torch::nn::utils::clip_grad_norm_(parameters_, *options_.optimizer.clip_grad_norm);
    }
    optimizer_->step();
    // Drop the gradients rather than zero them: no memory held between steps.
    for (auto& parameter : parameters_) parameter.mutable_grad() = torch::Tensor();
  }
  steps_.fetch_add(1);
  examples_.fetch_add(static_cast<uint64_t>(rows));
}

void ExpertBackend::set_counters(uint64_t steps, uint64_t examples_processed) {
  steps_.store(steps);
  examples_.store(examples_processed);
}

ExpertDescription ExpertBackend::describe() const {
  ExpertDescription description;
  description.uid = options_.uid;
  description.expert_cls = options_.expert_cls;
  description.inputs = options_.inputs;
  description.outputs = options_.outputs;
  description.steps = steps();
  description.examples_processed = examples_processed();
  description.max_batch_size = options_.max_batch_size;
  return description;
}

}  // namespace hm::moe
