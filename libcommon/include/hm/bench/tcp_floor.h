// The machine's floor under an RPC round trip (hm-bench latency --vs-tcp):
// sequential round trips of a small message over a plain loopback TCP
// connection between the calling thread and an echo thread, with blocking
// sockets and no event loop. Any call to an expert costs at least this, since
// it wakes a thread on each side; on a VM whose idle vCPUs halt, most of it
// is those two wakes (hm-bench(1) NOTES).
//
// Threads: run_tcp_round_trips blocks the calling thread and starts one echo
// thread, joined before it returns. Every socket read and write gives up
// after `timeout_s`, so a run is bounded in time.
#pragma once

#include <cstddef>

#include "hm/bench/stats.h"

namespace hm::bench {

struct TcpFloorRun {
  size_t calls = 10000;
  size_t warmup = 200;
  size_t message_bytes = 64;  // each way
  double timeout_s = 10;
};

// Microseconds per round trip, over `calls` timed ones after `warmup`
// untimed. Throws hm::Error naming the socket call that failed (and why).
Summary run_tcp_round_trips(const TcpFloorRun& run);

}  // namespace hm::bench
