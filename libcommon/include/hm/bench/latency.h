// hm-bench latency: sequential round trips of one small call (by default a
// nop expert's forward with batch 1), timed one by one.
//
// The server runs in-process (a nop expert, expert.0) unless `server` names a
// running one; the client is the calling thread with its own event loop and
// one connection, so a round trip is: encode, loopback TCP, server loop,
// task pool, runtime thread, back. `info` calls skip the task pool and the
// runtime, which shows what the RPC alone costs.
//
// Threads: run_latency blocks the calling thread (which must not run an
// EventLoop already).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "hm/bench/stats.h"

namespace hm::bench {

struct LatencyRun {
  std::string server;  // HOST:PORT; empty = in-process
  std::string expert_cls = "nop";
  int64_t hidden_dim = 1024;
  size_t batch_size = 1;
  size_t calls = 10000;
  size_t warmup = 200;
  // "forward", "backward", or "info" (answered on the server's loop thread
  // without the runtime: the RPC floor under the other two).
  std::string call = "forward";
  double timeout_s = 30;
  bool progress = true;
  // Also time plain loopback TCP round trips (in-process server only: a
  // UsageError with `server`).
  bool vs_tcp = false;
};

struct LatencyReport {
  double startup_s = 0;  // the in-process server's
  Summary us;            // per round trip, microseconds
  double calls_per_s = 0;
  std::optional<Summary> tcp_us;  // with vs_tcp: per plain TCP round trip
};

LatencyReport run_latency(const LatencyRun& run);

}  // namespace hm::bench
