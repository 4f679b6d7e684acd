#include "hm/client/mixture.h"

#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "hm/base/error.h"
#include "hm/client/expert_dispatch.h"

namespace hm::client {

RemoteMixtureOfExpertsImpl::RemoteMixtureOfExpertsImpl(MixtureConfig config,
                                                       std::shared_ptr<discovery::SwarmClient> swarm)
    : config_(std::move(config)), swarm_(std::move(swarm)) {
  check_mixture_config(config_);
  gate = register_module("gate", torch::nn::Linear(config_.in_features, config_.grid.total()));
}

torch::Tensor RemoteMixtureOfExpertsImpl::forward(const torch::Tensor& x) {
  check_mixture_input(config_, x);
  stats_ = {};
  // Gating: one score per index of every grid dimension.
  auto logits = gate->forward(gating_input(x));  // [B, sum(grid)]
  auto dispatch = dispatch_to_experts(*swarm_, config_, x, logits, stats_);
  if (!dispatch.outputs.defined()) return zero_output(config_, x) + 0 * logits.sum();
  // Each slot's logit: the sum of its grid coordinates' scores. Slots that
  // did not answer get no weight; a sample with no answer at all gets zeros
  // (finite logits keep the gradient finite).
  auto slot_logits = gather_slots(logits, dispatch).sum(-1);
  auto masked = torch::where(dispatch.mask, slot_logits, torch::full_like(slot_logits, -1e9));
  auto weights = torch::softmax(masked, 1) * dispatch.mask.to(slot_logits.dtype());
  return weighted_sum(weights, dispatch);
}

}  // namespace hm::client
