// hm-bench dht: hivemind's benchmark_dht (0.9.x) with hm's DHT, every peer in
// this process on one event loop (NodeGroup).
//
// `peers` nodes join one swarm on loopback. The second-to-last node declares
// `experts` random uids expert.A.B.C (A, B, C in 0..999) in batches of
// `batch`, each batch at a random fake server address, the way servers
// declare experts (key uid -> "host:port", plus a subkey entry under every
// proper prefix). Then `failure_rate` x peers random other nodes stop, and
// the last node reads every uid back in batches.
//   store success: entries accepted by at least one replica / entries sent
//   get success:   uids read back with the right address / uids
//   mean store:    total store time / entries; mean get: total get time / uids
// Store and get batches run one after the other, as in hivemind.
//
// Threads: run_dht_bench blocks the calling thread (which must not run an
// EventLoop already).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "hm/dht/node.h"

namespace hm::bench {

struct DhtBenchRun {
  size_t peers = 32;
  size_t experts = 256;
  size_t batch = 32;
  double expiration = 300;     // seconds the declarations live
  double failure_rate = 0;     // fraction of peers stopped before the reads
  uint64_t seed = 0;
  double timeout_s = 300;      // per phase (join, each batch)
  bool progress = true;
};

struct DhtBenchReport {
  size_t peers = 0;
  size_t stopped = 0;
  double bootstrap_s = 0;
  size_t store_ok = 0, store_total = 0;
  size_t get_ok = 0, get_total = 0;
  double store_s = 0, get_s = 0;  // summed over batches
  double store_success = 0, get_success = 0;  // fractions, 0..1
  double mean_store_ms = 0;       // per entry
  double mean_get_ms = 0;         // per uid
  double start_rss_mb = 0;        // before the swarm was made
  double peak_rss_mb = 0;         // the process's peak (start_rss_mb included)
  std::string swarm_summary;
};

// `count` distinct uids "expert.A.B.C" (A, B, C in 0..999). Throws hm::Error
// when more than 10^9 are asked for.
std::vector<std::string> random_expert_uids(size_t count, std::mt19937_64& rng);

DhtBenchReport run_dht_bench(const DhtBenchRun& run);

}  // namespace hm::bench
