// hm-moe's commands, behind a torch-free door (hm-moe's main.cpp includes
// no LibTorch header): one forward or backward of a RemoteMixtureOfExperts
// from a shell, and the trainer, from hm-moe's command line.
//
// Threads: run_layer() and train() block the calling thread; the swarm's
// event loop runs on a background thread of their own
// (discovery::SwarmClient). The other functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hm/client/mixture_config.h"
#include "hm/client/trainer.h"
#include "hm/tensor/compression.h"
#include "hm/tensor/host_tensor.h"

namespace hm::client {

// hm-moe's command line, as values (man hm-moe says what each means).
struct LayerFlags {
  std::vector<std::string> dht;
  std::string prefix;
  std::string grid;
  size_t k_best = 4;
  size_t k_min = 1;
  double forward_timeout = 0;      // 0 = none
  double timeout_after_k_min = 0;  // 0 = none
  size_t backward_k_min = 1;
  double backward_timeout = 0;     // 0 = none
  bool allow_zero_outputs = false;
  unsigned busy_poll_us = 0;
  CompressionPolicy compression;  // of expert requests
  bool detect_anomalies = false;
  std::string gate;
  std::string save_gate;
  uint64_t seed = 0;
  std::string input;
  std::string grad;
  std::string output;
  std::string format = "npy";
  // train
  int64_t hidden_dim = 64;
  int blocks = 2;
  int64_t steps = 1000;
  int64_t batch_size = 64;
  int trainers = 4;
  int64_t eval_every = 100;
  int64_t eval_samples = 10000;
  double inject_failures = 0;
  double latency_ms = 0;
  double lr = 1e-3;
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::string save;
  std::string resume;
  bool json = false;
  std::string metrics;  // --metrics HOST:PORT; empty = off
};

// The layer the flags describe, on `in_features` inputs. Throws
// hm::UsageError for a bad --grid.
MixtureConfig mixture_config(const LayerFlags& flags, int64_t in_features);

// Builds the layer on the swarm (--dht), with a fresh gate drawn from
// --seed or the one in --gate (written to --save-gate when given), and runs
// `input`, a float tensor [batch, ..., in_features], through it, logging how
// many experts answered. Without `output_grad`, returns the output (float32,
// same shape). With it, runs backward from the gradient that `output_grad`
// returns, called after the forward (the experts take an optimizer step),
// and returns the input's gradient. Throws hm::Error: the swarm cannot be
// joined, too few experts answer, the gradient's shape is not the output's.
HostTensor run_layer(const LayerFlags& flags, const HostTensor& input,
                     const std::function<HostTensor()>& output_grad = {});

// hm-moe train's configuration. Throws hm::UsageError naming the flag: fewer
// than one trainer, block, step or sample per batch; --inject-failures
// outside [0, 1); a bad --grid.
TrainConfig train_config(const LayerFlags& flags);

// hm-moe train: a Trainer (trainer.h) of train_config(flags) on the swarm,
// with torch on one thread per trainer (the trainers are the parallelism).
// Calls back on the calling thread as Trainer::run does.
void train(const LayerFlags& flags, const std::function<void(const Evaluation&)>& on_eval,
           const std::function<void(const Progress&)>& on_progress);

}  // namespace hm::client
