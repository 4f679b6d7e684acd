#include "hm/client/switch_mixture.h"

#include <torch/nn/modules/linear.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "hm/base/error.h"
#include "hm/client/expert_dispatch.h"

namespace hm::client {

SwitchConfig SwitchConfig::defaults(int64_t in_features, discovery::GridSpec grid) {
  SwitchConfig config;
  config.mixture.in_features = in_features;
  config.mixture.grid = std::move(grid);
  config.mixture.k_best = 1;
  config.mixture.k_min = 0;
  config.mixture.backward_k_min = 0;
  config.mixture.allow_zero_outputs = true;
  return config;
}

RemoteSwitchMixtureOfExpertsImpl::RemoteSwitchMixtureOfExpertsImpl(
    SwitchConfig config, std::shared_ptr<discovery::SwarmClient> swarm)
    : config_(std::move(config)), swarm_(std::move(swarm)) {
  check_mixture_config(config_.mixture);
  if (!(config_.grid_dropout > 0 && config_.grid_dropout <= 1)) {
    throw UsageError("switch mixture: grid_dropout must be in (0, 1]");
  }
  gate = register_module("gate", torch::nn::Linear(config_.mixture.in_features,
                                                   config_.mixture.grid.total()));
  for (size_t d = 0; d < config_.mixture.grid.dims.size(); ++d) {
    auto size = config_.mixture.grid.dims[d];
    grid_utilization.push_back(register_buffer("grid_utilization_" + std::to_string(d),
                                               torch::full({size}, 1.0 / size)));
  }
}

std::pair<torch::Tensor, torch::Tensor> RemoteSwitchMixtureOfExpertsImpl::forward(
    const torch::Tensor& x) {
  const auto& mixture = config_.mixture;
  check_mixture_input(mixture, x);
  stats_ = {};
  auto gating = gating_input(x);
  if (is_training() && config_.jitter_eps > 0) {
    gating = gating * torch::empty_like(gating).uniform_(1 - config_.jitter_eps,
                                                          1 + config_.jitter_eps);
  }
  auto logits = gate->forward(gating);  // [B, sum(grid)]
  auto search_scores = logits;            // dropped indices: -inf, never chosen
  if (is_training() && config_.grid_dropout < 1) {
    auto keep = torch::bernoulli(torch::full_like(logits, config_.grid_dropout)).to(torch::kBool);
    search_scores = torch::where(keep, logits, torch::full_like(logits, -INFINITY)).detach();
    // Finite for the softmax, so that gradients stay finite when a whole
    // dimension was dropped.
    logits = torch::where(keep, logits, torch::full_like(logits, -1e9));
  }
  // Per-dimension probabilities, side by side like the logits.
  std::vector<torch::Tensor> probabilities;
  int64_t offset = 0;
  for (auto size : mixture.grid.dims) {
    probabilities.push_back(torch::softmax(logits.narrow(1, offset, size), 1));
    offset += size;
  }
  auto all_probabilities = torch::cat(probabilities, 1);

  auto dispatch = dispatch_to_experts(*swarm_, mixture, x, search_scores, stats_);
  torch::Tensor output;
  if (!dispatch.outputs.defined()) {
    output = zero_output(mixture, x) + 0 * logits.sum();
  } else {
    auto weights = gather_slots(all_probabilities, dispatch).prod(-1) *
                   dispatch.mask.to(all_probabilities.dtype());
    output = weighted_sum(weights, dispatch);
    // How often each index's experts answered, for the balancing loss.
    torch::NoGradGuard no_grad;
    int64_t start = 0;
    for (size_t d = 0; d < mixture.grid.dims.size(); ++d) {
      auto size = mixture.grid.dims[d];
      auto columns = dispatch.index.select(2, d).masked_select(dispatch.mask) - start;
      auto counts = torch::bincount(columns.to(torch::kCPU), {}, size).to(torch::kFloat);
      if (counts.sum().item<float>() > 0) {
        counts = counts / counts.sum();
        grid_utilization[d].mul_(config_.utilization_alpha)
            .add_(counts.to(grid_utilization[d].device()), 1 - config_.utilization_alpha);
      }
      start += size;
    }
  }
  auto balancing_loss = torch::zeros({}, logits.options());
  for (size_t d = 0; d < probabilities.size(); ++d) {
    auto size = static_cast<double>(mixture.grid.dims[d]);
    balancing_loss = balancing_loss +
                     (probabilities[d].mean(0) * grid_utilization[d]).mean() * size * size;
  }
  return {output + x, balancing_loss};
}

}  // namespace hm::client
