// ExpertBackend: one hosted expert, i.e. its network, its optimizer and its
// counters; what a runtime thread calls to run a batch forward or backward.
//
// backward() trains: it recomputes forward with gradients (the server keeps
// no per-request state), backpropagates the client's output gradients,
// returns the input gradients and applies one optimizer step per batch, as
// hivemind's ExpertBackend does.
//
// Thread rules: only one thread (the device's runtime thread) calls forward,
// backward, module() and optimizer() once serving; steps(),
// examples_processed() and describe() may be called from any thread.
// Ownership: the backend owns its module and optimizer.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hm/moe/expert_layers.h"
#include "hm/rpc/expert_host.h"

namespace hm::moe {

struct OptimizerConfig {
  std::string name = "adam";             // "adam", "sgd" or "none" (no training)
  std::optional<double> lr;              // default: adam 1e-3, sgd 0.01
  std::optional<double> clip_grad_norm;  // max total L2 norm of parameter grads
};

// Throws hm::UsageError for an unknown optimizer name or a non-positive lr or
// clip value.
void validate(const OptimizerConfig& config);

struct BackendOptions {
  std::string uid;
  std::string expert_cls;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;  // empty = inferred by one dummy forward (batch 3)
  OptimizerConfig optimizer;
  torch::Device device = torch::kCPU;
  uint32_t max_batch_size = 4096;
};

class ExpertBackend {
 public:
  // Moves `module` to the device and builds the optimizer over its
  // parameters. With optimizer "none" the parameters stop requiring grad.
  ExpertBackend(std::unique_ptr<ExpertModule> module, BackendOptions options);
  ~ExpertBackend();
  ExpertBackend(const ExpertBackend&) = delete;
  ExpertBackend& operator=(const ExpertBackend&) = delete;

  // Runs the module without gradients. Inputs may be on any device; outputs
  // are on the backend's device.
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& inputs);

  // Gradients of the inputs (zeros for non-float inputs and inputs the
  // outputs do not depend on), on the backend's device; then one optimizer
  // step. grad_outputs are cast to each output's dtype and device.
  std::vector<torch::Tensor> backward(const std::vector<torch::Tensor>& inputs,
                                      const std::vector<torch::Tensor>& grad_outputs);

  ExpertDescription describe() const;
  const BackendOptions& options() const { return options_; }

  // Backward batches applied (one optimizer step each when there is an
  // optimizer) and rows they held.
  uint64_t steps() const { return steps_.load(); }
  uint64_t examples_processed() const { return examples_.load(); }
  // For restoring a checkpoint before serving.
  void set_counters(uint64_t steps, uint64_t examples_processed);

  // State for checkpoints: parameters and buffers by name, optimizer state
  // (nullptr for "none"; save()/load() it with torch::serialize archives).
  ExpertModule& module() { return *module_; }
  torch::optim::Optimizer* optimizer() { return optimizer_.get(); }

 private:
  void apply_gradients(int64_t rows);

  BackendOptions options_;
  std::unique_ptr<ExpertModule> module_;
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::atomic<uint64_t> steps_{0};
  std::atomic<uint64_t> examples_{0};
};

}  // namespace hm::moe
