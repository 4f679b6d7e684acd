// RemoteSwitchMixtureOfExperts: the Switch-Transformer flavour of the remote
// mixture (hivemind's RemoteSwitchMixtureOfExperts).
//
// Differences from RemoteMixtureOfExperts:
//  - top-1 routing by default (k_best = 1), k_min = 0, backward_k_min = 0,
//    allow_zero_outputs on;
//  - in training, the gating input is multiplied by noise U(1-eps, 1+eps)
//    (jitter_eps) and every grid index is kept with probability grid_dropout
//    (dropped ones are never chosen);
//  - an expert's weight is the product of its coordinates' per-dimension
//    softmax probabilities; experts that fail weigh 0;
//  - forward returns (output + input, balancing_loss): a residual output and
//    a load-balancing loss, sum over dimensions of
//    sum(mean_batch(softmax) * utilization) * dim_size, where utilization
//    is an exponential moving average (utilization_alpha) of how often each
//    index's experts answered. Add the loss, scaled, to the training loss.
// Threads and lifetime: as RemoteMixtureOfExperts.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "hm/client/mixture_config.h"
#include "hm/discovery/swarm_client.h"

namespace hm::client {

struct SwitchConfig {
  MixtureConfig mixture;  // k_best 1, k_min 0, backward_k_min 0, zero outputs allowed
  double utilization_alpha = 0.9;
  double grid_dropout = 1.0;  // probability of keeping an index
  double jitter_eps = 1e-2;

  // The Switch defaults on top of a grid and input size.
  static SwitchConfig defaults(int64_t in_features, discovery::GridSpec grid);
};

class RemoteSwitchMixtureOfExpertsImpl : public torch::nn::Module {
 public:
  RemoteSwitchMixtureOfExpertsImpl(SwitchConfig config, std::shared_ptr<discovery::SwarmClient> swarm);

  // (output + x, balancing_loss)
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);

  const MixtureStats& last_stats() const { return stats_; }

  torch::nn::Linear gate{nullptr};
  std::vector<torch::Tensor> grid_utilization;  // one buffer per dimension

 private:
  SwitchConfig config_;
  std::shared_ptr<discovery::SwarmClient> swarm_;
  MixtureStats stats_;
};
TORCH_MODULE(RemoteSwitchMixtureOfExperts);

}  // namespace hm::client
