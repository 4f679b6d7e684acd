// hm-bench: measure hm's experts and DHT side by side with their limits.
//   hm-bench throughput --preset nop --experts 4 --clients 2 --batch-size 256 --backprop
//   hm-bench throughput --preset ffn_forward --vs-local --json
//   hm-bench latency --calls 10000
//   hm-bench dht --peers 1024 --experts 16384 --batch 64
//   hm-bench chain --blocks 4 --jobs 8 --ping 0 0.05 0.1
//   hm-bench compression --json
#include <memory>

#include "hm/base/allocator.h"
#include "hm/bench/client_process.h"
#include "hm/cli/app.h"
#include "hm/cli/busy_poll_flag.h"
#include "hm/io/busy_idle.h"
#include "subcommands.h"

using namespace hm_bench;  // the add_* of each subcommand

int main(int argc, char** argv) {
  hm::tune_allocator();
  CLI::App app{
      "Measure hm's experts and DHT side by side with their limits: server throughput "
      "(hivemind's presets) against local compute, round-trip latency, a DHT swarm, and the "
      "paper's chain-of-blocks experiment.",
      "hm-bench"};
  hm::cli::CommonFlags common;
  hm::cli::add_common_flags(app, common);
  app.require_subcommand(1);

  Output out;
  hm::bench::ThroughputFlags throughput;
  hm::bench::LatencyRun latency;
  hm::bench::DhtBenchRun dht;
  hm::bench::ChainRun chain;
  hm::bench::CompressionRun compression;
  add_throughput(app, throughput, out);
  add_latency(app, latency, out);
  add_dht(app, dht, out);
  add_chain(app, chain, out);
  add_compression(app, compression, out);
  std::string spec;
  auto* client = app.add_subcommand("_client", "internal: one throughput client process");
  client->group("");
  client->add_option("--spec", spec)->required();
  hm::cli::add_busy_poll_flag(*client, out.busy_poll_us);

  return hm::cli::run(app, argc, argv, common, [&]() -> int {
    auto* cmd = app.get_subcommands().front();
    const std::string name = cmd->get_name();
    std::unique_ptr<hm::io::BusyIdle> busy_idle;
    if (out.busy_idle) busy_idle = std::make_unique<hm::io::BusyIdle>();
    hm::cli::apply_busy_poll(out.busy_poll_us);
    using hm::bench::measure_and_print;
    if (name == "throughput") {
      auto run = hm::bench::throughput_run(throughput, out.busy_poll_us);
      return measure_and_print(run, hm::bench::run_throughput, out);
    }
    if (name == "latency") return measure_and_print(latency, hm::bench::run_latency, out);
    if (name == "dht") return measure_and_print(dht, hm::bench::run_dht_bench, out);
    if (name == "chain") return measure_and_print(chain, hm::bench::run_chain, out);
    if (name == "compression") {
      return measure_and_print(compression, hm::bench::run_compression, out);
    }
    return hm::bench::client_process_main(spec);
  });
}
