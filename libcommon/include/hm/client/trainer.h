// Trainer: hm-moe train. A classifier whose middle layers are mixtures of
// remote experts, trained asynchronously by several trainer threads, as in
// the Learning@home paper's convergence experiment:
//
//   Linear(784, d) -> L x RemoteMixtureOfExperts(d, grid) -> Linear(d, 10)
//
// on an IDX image dataset (Fashion-MNIST by default). The local layers and
// gates live in a master copy with Adam; every trainer thread keeps a
// replica: it copies the master, computes a gradient on its own batch
// (forward and backward go to the experts, which train on every backward),
// then applies that (possibly stale) gradient to the master. The experts'
// network time overlaps across trainers.
//
// Threads: construct and run() on one thread; run() starts the trainers and
// evaluates from the calling thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "hm/client/mixture_config.h"
#include "hm/discovery/swarm_client.h"

namespace hm::client {

struct TrainConfig {
  MixtureConfig block;            // in_features is set to hidden_dim
  int64_t hidden_dim = 64;
  int blocks = 2;
  int64_t steps = 1000;           // optimizer steps on the master, in all
  int64_t batch_size = 64;
  int trainers = 4;
  int64_t eval_every = 100;       // steps between evaluations (and at the end)
  int64_t eval_samples = 10000;   // test samples per evaluation (0 = all)
  double lr = 1e-3;
  uint64_t seed = 0;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string save_path;          // write master + optimizer here after each evaluation
  std::string resume_path;        // start from this file
};

struct Evaluation {
  int64_t step = 0;
  double loss = 0;               // mean training loss since the previous evaluation
  double test_accuracy = 0;
  double samples_per_s = 0;      // training samples per second since the start
  double seconds = 0;            // since the start
  double experts_reached = 0;    // mean fraction of asked experts that answered
  int64_t failed_steps = 0;      // steps lost to errors (no experts answered)
};

struct Progress {
  int64_t step = 0;
  double loss = 0;
  double samples_per_s = 0;
  double experts_reached = 0;
};

class Trainer {
 public:
  // Loads the dataset (hm::Error naming the missing or malformed file).
  Trainer(TrainConfig config, std::shared_ptr<discovery::SwarmClient> swarm);
  ~Trainer();

  // Trains for config.steps; calls on_eval after every evaluation and
  // on_progress about every half second (both on the calling thread).
  // Throws hm::Error when the swarm fails for too many steps in a row.
  void run(const std::function<void(const Evaluation&)>& on_eval,
           const std::function<void(const Progress&)>& on_progress);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hm::client
