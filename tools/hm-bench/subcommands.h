// hm-bench's subcommands: each add_* adds one to `app`, its flags writing
// into the run's values and the shared output flags.
#pragma once

#include <CLI/CLI.hpp>

#include "hm/bench/chain.h"
#include "hm/bench/compression_bench.h"
#include "hm/bench/dht_bench.h"
#include "hm/bench/latency.h"
#include "hm/bench/report.h"
#include "hm/bench/throughput.h"

namespace hm_bench {

using Output = hm::bench::OutputFlags;

void add_throughput(CLI::App& app, hm::bench::ThroughputFlags& flags, Output& out);
void add_latency(CLI::App& app, hm::bench::LatencyRun& run, Output& out);
void add_dht(CLI::App& app, hm::bench::DhtBenchRun& run, Output& out);
void add_chain(CLI::App& app, hm::bench::ChainRun& run, Output& out);
void add_compression(CLI::App& app, hm::bench::CompressionRun& run, Output& out);

}  // namespace hm_bench
