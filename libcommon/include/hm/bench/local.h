// The local limit for hm-bench throughput --vs-local: the same experts, the
// same batches and the same server-side work, with no network. For every
// batch of every client (clients interleaved, one thread): the expert's
// forward, then, with backprop, its backward (forward again with gradients,
// backpropagation, one optimizer step), outputs brought to the CPU as the
// server does before answering.
//
// Threads: one thread builds and runs a LocalRunner (the runtime thread's
// role). Ownership: the runner owns its experts and inputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "hm/bench/presets.h"

namespace hm::bench {

struct LocalResult {
  double experts_s = 0;      // building the experts (not in elapsed_s)
  double experts_cpu_s = 0;  // CPU seconds that took
  double elapsed_s = 0;      // the timed batches
  double cpu_s = 0;          // CPU seconds of the timed batches
  uint64_t samples = 0;
};

class LocalRunner {
 public:
  // Builds the experts (seed 0: the weights of hm-bench's in-process server)
  // and the clients' inputs, and runs `warmup` untimed batches per client.
  // Throws hm::Error when torch fails.
  LocalRunner(const ThroughputParams& params, size_t warmup, uint64_t seed);
  ~LocalRunner();
  LocalRunner(const LocalRunner&) = delete;
  LocalRunner& operator=(const LocalRunner&) = delete;

  double experts_s() const;
  double experts_cpu_s() const;

  // Runs every client's timed batches once; `batch_done` after each.
  LocalResult run(const std::function<void()>& batch_done = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One LocalRunner, run once.
LocalResult run_local(const ThroughputParams& params, size_t warmup, uint64_t seed,
                      const std::function<void()>& batch_done = {});

}  // namespace hm::bench
