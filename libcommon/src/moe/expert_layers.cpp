#include "hm/moe/expert_layers.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "builtin_experts.h"
#include "hm/base/error.h"
#include "hm/base/expert_kinds.h"
#include "hm/torch/torch_bridge.h"
#include "hm/torch/torch_errors.h"
#include "script_expert.h"

namespace hm::moe {
namespace {

constexpr std::string_view kModule = "module";
// The built-in kinds, then "module".
constexpr auto kClasses = [] {
  std::array<std::string_view, kBuiltinExpertKinds.size() + 1> classes{};
  std::copy(kBuiltinExpertKinds.begin(), kBuiltinExpertKinds.end(), classes.begin());
  classes.back() = kModule;
  return classes;
}();
constexpr int64_t kTransformerHeads = 16;
constexpr int64_t kDummyBatch = 3;

void validate_module_inputs(std::span<const TensorSpec> specs) {
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& shape = specs[i].shape;
    if (shape.empty() || shape[0] != -1) {
      throw UsageError(
          fmt::format("module input {} ({}): the first dimension must be the "
                      "batch (*)",
                      i, describe(specs[i])));
    }
    for (size_t d = 1; d < shape.size(); ++d) {
      if (shape[d] < 0) {
        throw UsageError(fmt::format("module input {} ({}): only the first dimension may be *", i,
                                     describe(specs[i])));
      }
    }
  }
}

}  // namespace

std::span<const std::string_view> expert_classes() { return kClasses; }

uint64_t fnv1a_64(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

uint64_t expert_seed(uint64_t seed, std::string_view uid) { return seed ^ fnv1a_64(uid); }

void validate(const ExpertArch& arch) {
  const bool is_module = arch.expert_cls == kModule;
  if (!is_module && detail::find_builtin(arch.expert_cls) == nullptr) {
    throw UsageError(fmt::format("unknown expert class '{}' (valid: {})", arch.expert_cls,
                                 fmt::join(kClasses, ", ")));
  }
  if (arch.hidden_dim < 1) {
    throw UsageError(fmt::format("hidden_dim must be at least 1, got {}", arch.hidden_dim));
  }
  if (arch.expert_cls == "transformer" && arch.hidden_dim % kTransformerHeads != 0) {
    throw UsageError(
        fmt::format("expert class 'transformer' needs hidden_dim divisible by {} "
                    "(attention heads), got {}",
                    kTransformerHeads, arch.hidden_dim));
  }
  if (is_module) {
    if (arch.module_path.empty()) {
      throw UsageError("expert class 'module' needs a TorchScript file (module path)");
    }
    validate_module_inputs(arch.module_inputs);
  }
}

std::vector<TensorSpec> input_specs(const ExpertArch& arch) {
  validate(arch);
  if (arch.expert_cls != kModule) {
    return detail::find_builtin(arch.expert_cls)->inputs(arch.hidden_dim);
  }
  if (!arch.module_inputs.empty()) return arch.module_inputs;
  return {TensorSpec{DType::Float32, {-1, arch.hidden_dim}}};
}

std::optional<std::vector<TensorSpec>> known_output_specs(const ExpertArch& arch) {
  validate(arch);
  if (arch.expert_cls == kModule) return std::nullopt;
  return detail::find_builtin(arch.expert_cls)->outputs(arch.hidden_dim);
}

std::unique_ptr<ExpertModule> make_expert(const ExpertArch& arch, std::string_view uid,
                                          uint64_t seed) {
  validate(arch);
  if (arch.expert_cls == kModule) return detail::load_script_expert(arch.module_path);
  at::mt19937 gen(expert_seed(seed, uid));
  torch::NoGradGuard no_grad;
  return detail::find_builtin(arch.expert_cls)->make(arch.hidden_dim, gen);
}

std::vector<std::unique_ptr<ExpertModule>> make_experts(const ExpertArch& arch,
                                                        std::span<const std::string> uids,
                                                        uint64_t seed, unsigned threads) {
  validate(arch);
  std::vector<std::unique_ptr<ExpertModule>> modules(uids.size());
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  // TorchScript files load one at a time: ThreadSanitizer reports concurrent
  // torch::jit::load calls racing inside LibTorch (not instrumented, so we
  // cannot tell a real race from invisible locking); a load is fast anyway.
  if (arch.expert_cls == kModule) threads = 1;
  threads = static_cast<unsigned>(std::min<size_t>(threads, uids.size()));
  std::atomic<size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  const auto work = [&] {
    for (size_t i = next++; i < uids.size(); i = next++) {
      try {
        modules[i] = make_expert(arch, uids[i], seed);
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = uids.size();
      }
    }
  };
  std::vector<std::thread> workers;
  for (unsigned t = 1; t < threads; ++t) workers.emplace_back(work);
  work();
  for (auto& worker : workers) worker.join();
  if (failure) std::rethrow_exception(failure);
  return modules;
}

std::vector<torch::Tensor> sample_inputs(std::span<const TensorSpec> specs, int64_t batch,
                                         torch::Device device) {
  std::vector<torch::Tensor> out;
  out.reserve(specs.size());
  for (const auto& spec : specs) {
    std::vector<int64_t> shape = spec.shape;
    if (!shape.empty()) shape[0] = batch;
    out.push_back(
        torch::zeros(shape, torch::TensorOptions().dtype(to_torch(spec.dtype)).device(device)));
  }
  return out;
}

std::vector<TensorSpec> infer_output_specs(ExpertModule& module, std::span<const TensorSpec> inputs,
                                           torch::Device device) {
  std::vector<torch::Tensor> outputs;
  try {
    torch::NoGradGuard no_grad;
    outputs = module.forward(sample_inputs(inputs, kDummyBatch, device));
  } catch (const std::exception& error) {
    fail("dummy forward with batch {} failed: {}", kDummyBatch, one_line_what(error));
  }
  require(!outputs.empty(), "dummy forward with batch {} returned no tensors", kDummyBatch);
  std::vector<TensorSpec> specs;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& out = outputs[i];
    require(out.dim() >= 1 && out.size(0) == kDummyBatch,
            "output {} of the dummy forward has shape {}, expected a batch dimension of {}", i,
            shape_string(out.sizes().vec()), kDummyBatch);
    TensorSpec spec{dtype_from_torch(out.scalar_type()), out.sizes().vec()};
    spec.shape[0] = -1;
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace hm::moe
