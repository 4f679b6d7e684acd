// RemoteMixtureOfExperts: a mixture-of-experts layer whose experts live in
// the swarm (hivemind's RemoteMixtureOfExperts, same knobs, same meaning).
//
// forward(x), x of shape [batch, in_features, ...]:
//   1. gating: Linear(in_features, sum(grid)) scores every grid dimension
//      (inputs with more than 2 dims are averaged over the middle ones for
//      gating only);
//   2. a beam search finds, per sample, the k_best live experts;
//   3. one request per expert carries every row routed to it; all run in
//      parallel; after every sample has k_min answers, stragglers get
//      timeout_after_k_min more; forward_timeout bounds the whole step,
//      beam search included;
//   4. the output is the softmax-weighted sum, over the experts that
//      answered, of their outputs (weights from the summed grid scores).
// backward sends each answering expert its rows and output gradients (they
// train), waits for backward_k_min of them within backward_timeout, and
// sums the input gradients; experts that fail add nothing.
// Errors: fewer than k_min answers in all (hm::Error "... k_min ..."), or
// none with allow_zero_outputs off; with detect_anomalies, non-finite
// inputs or gradients are an error and non-finite expert outputs count as
// failures.
//
// Threads: a torch module; call from torch threads. The SwarmClient it
// holds must outlive any graph built through it (the layer keeps it alive).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "hm/client/mixture_config.h"
#include "hm/discovery/swarm_client.h"

namespace hm::client {

class RemoteMixtureOfExpertsImpl : public torch::nn::Module {
 public:
  RemoteMixtureOfExpertsImpl(MixtureConfig config, std::shared_ptr<discovery::SwarmClient> swarm);

  torch::Tensor forward(const torch::Tensor& x);

  const MixtureConfig& config() const { return config_; }
  const MixtureStats& last_stats() const { return stats_; }

  torch::nn::Linear gate{nullptr};

 private:
  MixtureConfig config_;
  std::shared_ptr<discovery::SwarmClient> swarm_;
  MixtureStats stats_;
};
TORCH_MODULE(RemoteMixtureOfExperts);

}  // namespace hm::client
