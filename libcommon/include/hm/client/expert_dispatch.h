// What every mixture-of-experts layer shares: given grid scores, find each
// sample's best live experts, call them (differentiably: backward reaches
// the experts that answered), and hand back their outputs slot by slot.
// The layers (mixture.h, switch_mixture.h) only decide the weights.
// Threads: torch threads; the SwarmClient does the networking.
#pragma once

#include <torch/types.h>

#include "hm/client/mixture_config.h"
#include "hm/discovery/swarm_client.h"

namespace hm::client {

struct Dispatch {
  torch::Tensor outputs;  // [B, K, out...]: expert outputs per slot (zeros where none)
  torch::Tensor mask;     // [B, K] bool: the slot's expert answered
  torch::Tensor index;    // [B, K, D] long: each slot's column per dimension in the scores
};

// `scores` [B, sum(grid)] drives the beam search (-inf: never pick). With no
// expert found: outputs undefined when allow_zero_outputs, else hm::Error.
Dispatch dispatch_to_experts(discovery::SwarmClient& swarm, const MixtureConfig& config,
                             const torch::Tensor& x, const torch::Tensor& scores,
                             MixtureStats& stats);

// per_index [B, sum(grid)] picked at every slot's coordinates: [B, K, D].
torch::Tensor gather_slots(const torch::Tensor& per_index, const Dispatch& dispatch);

// sum over slots of weights [B, K] x outputs [B, K, out...]: [B, out...].
torch::Tensor weighted_sum(const torch::Tensor& weights, const Dispatch& dispatch);

// Zeros shaped like the layer's output for `x` (when nobody answered).
torch::Tensor zero_output(const MixtureConfig& config, const torch::Tensor& x);

// The gating input: x, averaged over its middle dimensions when it has more
// than two.
inline torch::Tensor gating_input(const torch::Tensor& x) {
  return x.dim() > 2 ? x.flatten(1, -2).mean(1) : x;
}

// UsageError for a config no layer can run with.
void check_mixture_config(const MixtureConfig& config);

// hm::Error for an input of the wrong shape (or non-finite with
// detect_anomalies).
void check_mixture_input(const MixtureConfig& config, const torch::Tensor& x);

}  // namespace hm::client
