// hm-bench's output: a human-readable report (stdout) or one JSON object
// (--json) per subcommand, from the run's parameters and its report. Pure
// functions; the text forms end in a newline.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "hm/bench/chain.h"
#include "hm/bench/compression_bench.h"
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

std::string to_text(const CompressionRun& run, const CompressionReport& report);
// {"size", "seed", "repeats", "kinds": {"none": {"bytes", "mse", "encode_gbps",
// "decode_gbps"}, ...}}
nlohmann::json to_json(const CompressionRun& run, const CompressionReport& report);

// hm-bench's output flags (--json, --no-progress, --busy-idle,
// --busy-poll), as values.
struct OutputFlags {
  bool json = false;
  bool no_progress = false;
  bool busy_idle = false;
  unsigned busy_poll_us = 0;
};

// What hm-bench prints for one run: to_text(), or to_json() with the
// process's settings added as "busy_idle" and "busy_poll_us", on one line.
template <typename Run, typename Report>
std::string render(const Run& run, const Report& report, const OutputFlags& flags) {
  if (!flags.json) return to_text(run, report);
  auto json = to_json(run, report);
  json["busy_idle"] = flags.busy_idle;
  json["busy_poll_us"] = flags.busy_poll_us;
  return json.dump() + "\n";
}

// One hm-bench subcommand: sets run.progress from --no-progress, measures
// (`measure(run)` returns the report) and prints the render()ed result on
// stdout. Returns 0, the exit code; throws what `measure` throws.
template <typename Run, typename Measure>
int measure_and_print(Run& run, const Measure& measure, const OutputFlags& flags) {
  run.progress = !flags.no_progress;
  std::fputs(render(run, measure(run), flags).c_str(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace hm::bench
