// expert_layers: the networks an expert can run, built from a description
// (ExpertArch) and a (seed, uid) pair.
//
// Built-in kinds follow hivemind's architectures (HEAD):
//   ffn          LayerNorm(h, eps=1e-12)(x + Linear(4h,h)(gelu_tanh(Linear(h,4h)(x))))
//                inputs: float32[B, h]
//   transformer  post-LN encoder layer: 16-head self-attention, dropout 0.1,
//                FFN 4h with tanh-gelu, key padding mask (true = padding)
//                inputs: float32[B, 128, h], bool[B, 128]
//   det_dropout  Linear(2h,h)(relu(Linear(h,2h)(x * mask / 0.8)))
//                inputs: float32[B, h] x, float32[B, h] mask (no gradient)
//   nop          x.clone()                           inputs: float32[B, h]
//   nop_delay    sleep 0.5 s, then x.clone()          inputs: float32[B, h]
//   module       a TorchScript file (torch::jit::load); inputs default to one
//                float32[B, h] and may be given explicitly
// Modules start in training mode, as in hivemind (dropout is active).
//
// Initial weights are a deterministic function of (seed, uid): the layers draw
// from a private mt19937 engine (the one behind torch's CPU generator) seeded
// with seed ^ fnv1a_64(uid), in the same order and with the same
// distributions as torch.nn's defaults. The same uid and seed give the same
// weights in any process and on any thread (torch's global generator is not
// touched), and Python's torch.manual_seed(seed ^ fnv1a_64(uid)) followed by
// hivemind's layer constructor gives them too, up to the last bit.
// TorchScript weights come from the file.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hm/tensor/tensor_spec.h"

namespace hm::moe {

// One expert's network behind a list-of-tensors interface. Not thread-safe:
// one thread at a time (the runtime thread once serving). Owned by its
// ExpertBackend.
class ExpertModule {
 public:
  virtual ~ExpertModule() = default;

  // Runs the network; grad mode is the caller's choice.
  virtual std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& inputs) = 0;

  // Trainable tensors (what an optimizer updates), aliasing the module's own.
  virtual std::vector<torch::Tensor> parameters() = 0;

  // Dotted names as in a PyTorch state_dict ("ffn.weight", "layer_norm.bias").
  virtual std::vector<std::pair<std::string, torch::Tensor>> named_parameters() = 0;
  virtual std::vector<std::pair<std::string, torch::Tensor>> named_buffers() = 0;

  // Moves parameters and buffers to `device`, in place.
  virtual void to(torch::Device device) = 0;

  // Training mode (dropout active) or evaluation mode. Built-in experts start
  // in training mode, as in hivemind; TorchScript ones as they were saved.
  virtual void train(bool on) = 0;
};

// What kind of expert to build; the same for every uid a server hosts.
struct ExpertArch {
  std::string expert_cls = "ffn";  // a name from expert_classes()
  int64_t hidden_dim = 1024;
  std::string module_path;                // expert_cls == "module": TorchScript file
  std::vector<TensorSpec> module_inputs;  // "module": empty = one float32[*, hidden_dim]
};

// "ffn", "transformer", "det_dropout", "nop", "nop_delay", "module".
std::span<const std::string_view> expert_classes();

// FNV-1a, 64 bit, over the uid's bytes: stable across processes and builds.
uint64_t fnv1a_64(std::string_view bytes);

// The generator seed for one expert: seed ^ fnv1a_64(uid).
uint64_t expert_seed(uint64_t seed, std::string_view uid);

// Throws hm::UsageError naming the problem: unknown kind (listing the valid
// ones), hidden_dim < 1, transformer hidden_dim not divisible by 16, module
// without a path, module input specs without a batch dimension.
void validate(const ExpertArch& arch);

// Input specs for the kind (dim 0 = -1, the batch).
std::vector<TensorSpec> input_specs(const ExpertArch& arch);

// Output specs of built-in kinds, known without running them; nullopt for
// "module" (use infer_output_specs).
std::optional<std::vector<TensorSpec>> known_output_specs(const ExpertArch& arch);

// Builds one expert's network on the CPU (validate()s first). Throws
// hm::UsageError for a bad arch, hm::Error when a TorchScript file cannot be
// loaded.
std::unique_ptr<ExpertModule> make_expert(const ExpertArch& arch, std::string_view uid,
                                          uint64_t seed);

// make_expert for every uid, on up to `threads` threads at once (0 = one per
// hardware thread): the same modules as one by one, in the order of `uids`.
// Rethrows the first failure.
std::vector<std::unique_ptr<ExpertModule>> make_experts(const ExpertArch& arch,
                                                        std::span<const std::string> uids,
                                                        uint64_t seed, unsigned threads = 0);

// Zero-filled tensors matching `specs` with `batch` rows, on `device`.
std::vector<torch::Tensor> sample_inputs(std::span<const TensorSpec> specs, int64_t batch,
                                         torch::Device device = torch::kCPU);

// Runs one dummy forward with batch 3 (without gradients) and describes the
// outputs, dim 0 as -1. Throws hm::Error when the module fails or returns a
// tensor without a batch dimension of 3.
std::vector<TensorSpec> infer_output_specs(ExpertModule& module, std::span<const TensorSpec> inputs,
                                           torch::Device device = torch::kCPU);

}  // namespace hm::moe
