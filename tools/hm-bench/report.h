// hm-bench's output: a human-readable report (stdout) or one JSON object
// (--json) per subcommand. Pure functions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "hm/bench/chain.h"
#include "hm/bench/dht_bench.h"
#include "hm/bench/latency.h"
#include "hm/bench/throughput.h"

namespace hm::bench {

nlohmann::json to_json(const Summary& summary);

std::string to_text(const ThroughputRun& run, const ThroughputReport& report);
nlohmann::json to_json(const ThroughputRun& run, const ThroughputReport& report);

std::string to_text(const LatencyRun& run, const LatencyReport& report);
nlohmann::json to_json(const LatencyRun& run, const LatencyReport& report);

std::string to_text(const DhtBenchRun& run, const DhtBenchReport& report);
nlohmann::json to_json(const DhtBenchRun& run, const DhtBenchReport& report);

std::string to_text(const ChainRun& run, const ChainReport& report);
nlohmann::json to_json(const ChainRun& run, const ChainReport& report);

}  // namespace hm::bench
