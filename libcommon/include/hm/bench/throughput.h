// hm-bench throughput: hivemind's benchmark_throughput, with hm's server.
//
// Starts an in-process server hosting expert.0 .. expert.(N-1) (or uses
// `server`), runs the clients (threads, or processes with client_argv), and
// reports hivemind's numbers: startup split between experts and networking,
// examples processed and samples/s, plus per-call latency percentiles.
// samples/s counts every client's timed batches over the span from the first
// client's start to the last client's end; all clients start together, after
// connecting and `warmup` untimed batches each.
// With vs_local, the same work runs again with no network (local.h) and the
// report holds both rates and their ratio: how close the server comes to the
// compute limit. With `rounds` > 1 the networked and the local runs
// alternate that many times and the rates are over all rounds (the local
// experts then live beside the server's). Both runs also report the CPU time the process (and its
// client processes) used, and cpu_ratio compares samples per CPU second:
// unlike the wall-clock ratio it hardly moves when other programs load the
// machine, and it shows what the network path costs in CPU.
//
// Threads: run_throughput blocks the calling thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hm/bench/presets.h"
#include "hm/bench/stats.h"
#include "hm/tensor/compression.h"

namespace hm::bench {

struct ThroughputRun {
  ThroughputParams params;
  std::string server;                   // HOST:PORT of a running hm-serve; empty = in-process
  std::vector<std::string> client_argv;  // non-empty: clients are processes (client_process.h)
  size_t warmup = 1;                    // untimed batches per client
  bool vs_local = false;
  size_t rounds = 1;                    // networked runs (each followed by the local one)
  uint64_t seed = 0;
  double timeout_s = 300;
  bool progress = true;
  // The clients' requests, and the in-process server's responses (an
  // external --server compresses as its own --compression says).
  CompressionPolicy compression;
};

struct ThroughputReport {
  double experts_startup_s = 0;     // building the in-process server's experts
  double networking_startup_s = 0;  // its event loop and listening socket
  double startup_s = 0;             // both
  uint64_t examples = 0;            // samples in timed batches, all rounds
  double elapsed_s = 0;             // summed over rounds
  double samples_per_s = 0;
  Summary forward_ms;               // per call
  Summary backward_ms;
  std::optional<double> local_samples_per_s;
  std::optional<double> local_elapsed_s;
  std::optional<double> ratio;      // samples_per_s / local_samples_per_s
  double cpu_s = 0;                 // CPU seconds of the networked run (all threads)
  std::optional<double> local_cpu_s;
  std::optional<double> cpu_ratio;  // (examples / cpu_s) / (local samples / local_cpu_s)
  std::vector<std::string> server_stats;  // per pool, from the in-process server
  double total_s = 0;               // the whole benchmark
};

// Throws hm::UsageError for bad parameters, hm::Error when the server or a
// client fails.
ThroughputReport run_throughput(const ThroughputRun& run);

// hm-bench throughput's command line, as values: a preset, the flags given
// over it, and the rest of the run.
struct ThroughputFlags {
  std::string preset = "default";
  ThroughputOverrides overrides;  // the flags given
  bool backprop = false, no_backprop = false;
  bool client_processes = false;
  ThroughputRun run;              // its params come from preset and overrides
};

// The run the flags describe: `run` with params = apply(preset, overrides),
// and with client_processes, clients that re-execute this binary as
// `_client --busy-poll USEC` (client_process.h). Throws hm::UsageError for an
// unknown preset or bad parameters.
ThroughputRun throughput_run(const ThroughputFlags& flags, unsigned busy_poll_us);

}  // namespace hm::bench
