// hm-bench chain: the throughput experiment of the Learning@home paper at
// this machine's scale. A model is a chain of `blocks` remote experts
// (expert.0 -> expert.1 -> ...); after each hop the client waits an
// exponentially distributed delay of mean `ping` (the simulated network
// latency; hivemind's script sleeps ping x Weibull(1), the same thing).
//
// For each ping value:
//   sequential  one trainer pushes `latency_batches` batches one after the
//               other (model parallelism: every hop's latency adds up);
//               gives the latency per batch and its throughput;
//   parallel    `jobs` trainers each push `batches` batches at once (the
//               decentralized mixture's way: independent trainers overlap
//               their waits); gives its throughput.
// With backprop, each batch also goes back through the chain (backward calls
// from the last block to the first, with a delay after each hop).
//
// All trainers share the calling thread's event loop (the delays are timers,
// not sleeping threads); each trainer has its own connection.
// Threads: run_chain blocks the calling thread (which must not run an
// EventLoop already).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hm/bench/stats.h"

namespace hm::bench {

struct ChainRun {
  std::string server;  // HOST:PORT hosting expert.0 .. expert.(blocks-1); empty = in-process
  size_t blocks = 4;
  std::string expert_cls = "ffn";
  int64_t hidden_dim = 256;
  size_t batch_size = 16;
  size_t jobs = 8;
  size_t batches = 4;           // per trainer, parallel phase
  size_t latency_batches = 4;   // sequential phase
  std::vector<double> pings = {0, 0.01, 0.05, 0.1};  // seconds
  bool backprop = false;
  uint64_t seed = 0;
  double timeout_s = 600;  // per phase
  bool progress = true;
};

struct ChainRow {
  double ping_s = 0;
  Summary latency_s;  // per batch, sequential phase
  double sequential_samples_per_s = 0;
  double parallel_samples_per_s = 0;
  double speedup = 0;  // parallel / sequential
};

struct ChainReport {
  double startup_s = 0;
  std::vector<ChainRow> rows;  // one per ping, in the order given
};

// Throws hm::UsageError for bad parameters, hm::Error when a call fails.
ChainReport run_chain(const ChainRun& run);

}  // namespace hm::bench
