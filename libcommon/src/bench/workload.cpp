#include "hm/bench/workload.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <random>

#include "hm/base/error.h"
#include "hm/moe/expert_layers.h"
#include "hm/torch/torch_bridge.h"

namespace hm::bench {
namespace {

std::vector<int64_t> with_batch(const TensorSpec& spec, size_t batch) {
  auto shape = spec.shape;
  require(!shape.empty(), "an expert input without a batch dimension");
  shape[0] = static_cast<int64_t>(batch);
  return shape;
}

moe::ExpertArch arch(const std::string& expert_cls, int64_t hidden_dim) {
  moe::ExpertArch a;
  a.expert_cls = expert_cls;
  a.hidden_dim = hidden_dim;
  return a;
}

}  // namespace

std::vector<size_t> expert_schedule(uint64_t seed, size_t client, size_t batches, size_t experts) {
  require(experts >= 1, "a schedule over zero experts");
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + client + 1);
  std::uniform_int_distribution<size_t> pick(0, experts - 1);
  std::vector<size_t> schedule(batches);
  for (auto& e : schedule) e = pick(rng);
  return schedule;
}

std::vector<HostTensor> client_inputs(const std::string& expert_cls, int64_t hidden_dim,
                                      size_t batch, uint64_t seed, size_t client) {
  const auto specs = moe::input_specs(arch(expert_cls, hidden_dim));
  auto generator = at::detail::createCPUGenerator(seed * 1000003ULL + client);
  std::vector<HostTensor> out;
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto shape = with_batch(specs[i], batch);
    const auto type = to_torch(specs[i].dtype);
    torch::Tensor t;
    if (i == 0 && is_floating(specs[i].dtype)) {
      t = torch::randn(shape, generator, torch::TensorOptions().dtype(type));
    } else if (is_floating(specs[i].dtype)) {
      t = torch::ones(shape, torch::TensorOptions().dtype(type));
    } else {
      t = torch::zeros(shape, torch::TensorOptions().dtype(type));
    }
    out.push_back(from_torch(t));
  }
  return out;
}

std::vector<HostTensor> output_grads(const std::string& expert_cls, int64_t hidden_dim,
                                     size_t batch) {
  auto specs = moe::known_output_specs(arch(expert_cls, hidden_dim));
  require(specs.has_value(), "expert kind '{}' has no known outputs", expert_cls);
  std::vector<HostTensor> out;
  for (const auto& spec : *specs) {
    out.push_back(from_torch(
        torch::ones(with_batch(spec, batch), torch::TensorOptions().dtype(to_torch(spec.dtype)))));
  }
  return out;
}

}  // namespace hm::bench
