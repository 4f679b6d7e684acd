// hm-bench's subcommands and their flags (CLI11), for main.cpp.
#include "subcommands.h"

#include <fmt/ranges.h>

#include "hm/base/expert_kinds.h"
#include "hm/bench/presets.h"
#include "hm/cli/busy_poll_flag.h"
#include "hm/cli/compression_flags.h"

namespace hm_bench {
namespace {

void add_output_flags(CLI::App* cmd, Output& out) {
  cmd->add_flag("--json", out.json, "Print one JSON object instead of the report");
  cmd->add_flag("--no-progress", out.no_progress, "No progress bar on stderr");
  cmd->add_flag("--busy-idle", out.busy_idle,
                "Keep idle CPUs polling while measuring (/dev/cpu_dma_latency; root): "
                "thread wake-ups on idle virtual CPUs cost tens of microseconds");
}

// The subcommands that call experts (not dht) also take --busy-poll.
void add_output_and_call_flags(CLI::App* cmd, Output& out) {
  add_output_flags(cmd, out);
  hm::cli::add_busy_poll_flag(*cmd, out.busy_poll_us);
}

}  // namespace

void add_throughput(CLI::App& app, hm::bench::ThroughputFlags& f, Output& out) {
  auto* cmd = app.add_subcommand(
      "throughput",
      "hivemind's benchmark_throughput: a server (in-process unless --server) and clients that "
      "send batches to random experts; samples/s, startup, per-call latency; with --vs-local the "
      "same work without the network, and the ratio");
  auto names = fmt::format("{}", fmt::join(hm::bench::throughput_preset_names(), ", "));
  cmd->add_option("--preset", f.preset, "hivemind's preset: " + names)->capture_default_str();
  cmd->add_option("--experts", f.overrides.experts, "Experts on the server (expert.0 ...)");
  cmd->add_option("--clients", f.overrides.clients, "Concurrent clients");
  cmd->add_option("--batches-per-client", f.overrides.batches_per_client,
                  "Timed batches each client sends");
  cmd->add_option("--batch-size", f.overrides.batch_size, "Rows per batch");
  cmd->add_option("--hidden-dim", f.overrides.hidden_dim, "Hidden size of the experts");
  cmd->add_option("--expert-cls", f.overrides.expert_cls, hm::builtin_expert_kinds_text());
  cmd->add_option("--max-batch-size", f.overrides.max_batch_size,
                  "Server's largest batch (default: the preset's, else 4 x --batch-size)");
  auto* no = cmd->add_flag("--no-backprop", f.no_backprop, "Forward calls only");
  cmd->add_flag("--backprop", f.backprop, "Forward then backward for every batch")->excludes(no);
  cmd->add_option("--device", f.overrides.device, "Where the experts run: cpu, cuda, cuda:N");
  cmd->add_option("--server", f.run.server,
                  "Use this running hm-serve (HOST:PORT, hosting expert.0 ...) instead of an "
                  "in-process server");
  cmd->add_flag("--client-processes", f.client_processes,
                "Run every client as a process of its own (default: threads)");
  cmd->add_flag("--vs-local", f.run.vs_local,
                "Also run the same work locally, without the network, and print the ratio");
  cmd->add_option("--rounds", f.run.rounds,
                  "Run the clients this many times (with --vs-local: alternating with the "
                  "local run)")
      ->capture_default_str();
  cmd->add_option("--warmup", f.run.warmup, "Untimed batches per client before the timing")
      ->capture_default_str();
  cmd->add_option("--seed", f.run.seed, "Seed for inputs and expert choices")
      ->capture_default_str();
  cmd->add_option("--timeout", f.run.timeout_s,
                  "Seconds one call may take (sent as its deadline: the server drops it after)")
      ->capture_default_str();
  hm::cli::add_compression_flags(*cmd, f.run.compression,
                                 "the requests (and the in-process server's responses)");
  add_output_and_call_flags(cmd, out);
}

void add_latency(CLI::App& app, hm::bench::LatencyRun& run, Output& out) {
  auto* cmd = app.add_subcommand(
      "latency", "Sequential round trips of one small call (a nop expert, batch 1): p50, p99, max");
  cmd->add_option("--server", run.server, "Use this running hm-serve (HOST:PORT, with expert.0)");
  cmd->add_option("--calls", run.calls, "Timed round trips")->capture_default_str();
  cmd->add_option("--warmup", run.warmup, "Untimed round trips first")->capture_default_str();
  cmd->add_option("--expert-cls", run.expert_cls, hm::builtin_expert_kinds_text())
      ->capture_default_str();
  cmd->add_option("--hidden-dim", run.hidden_dim, "Hidden size")->capture_default_str();
  cmd->add_option("--batch-size", run.batch_size, "Rows per call")->capture_default_str();
  cmd->add_option("--call", run.call,
                  "forward, backward, or info (no task pool, no runtime: the RPC floor)")
      ->capture_default_str()
      ->check(CLI::IsMember({"forward", "backward", "info"}));
  cmd->add_option("--timeout", run.timeout_s,
                  "Seconds one call may take (sent as its deadline: the server drops it after)")
      ->capture_default_str();
  cmd->add_flag("--vs-tcp", run.vs_tcp,
                "Also time as many plain TCP round trips between two threads on loopback: the "
                "machine's floor under any call");
  add_output_and_call_flags(cmd, out);
}

void add_dht(CLI::App& app, hm::bench::DhtBenchRun& run, Output& out) {
  auto* cmd = app.add_subcommand(
      "dht",
      "hivemind's benchmark_dht: a swarm of peers in this process; one declares experts, "
      "another reads them back; success rates, mean times, peak memory");
  cmd->add_option("--peers", run.peers, "DHT nodes")->capture_default_str();
  cmd->add_option("--experts", run.experts, "Expert uids to declare and read")
      ->capture_default_str();
  cmd->add_option("--batch", run.batch, "Experts per store and per get")->capture_default_str();
  cmd->add_option("--expiration", run.expiration, "Seconds the declarations live")
      ->capture_default_str();
  cmd->add_option("--failure-rate", run.failure_rate,
                  "Fraction of peers stopped between the stores and the gets")
      ->capture_default_str();
  cmd->add_option("--seed", run.seed, "Seed for uids and addresses")->capture_default_str();
  cmd->add_option("--timeout", run.timeout_s, "Seconds the join and each batch may take")
      ->capture_default_str();
  add_output_flags(cmd, out);
}

void add_chain(CLI::App& app, hm::bench::ChainRun& run, Output& out) {
  auto* cmd = app.add_subcommand(
      "chain",
      "The paper's throughput experiment: a chain of remote blocks with a random delay of mean "
      "--ping after each hop; one sequential trainer against --jobs concurrent ones, per ping");
  cmd->add_option("--server", run.server,
                  "Use this running hm-serve (HOST:PORT, hosting expert.0 ...)");
  cmd->add_option("--blocks", run.blocks, "Blocks in the chain")->capture_default_str();
  cmd->add_option("--expert-cls", run.expert_cls, hm::builtin_expert_kinds_text())
      ->capture_default_str();
  cmd->add_option("--hidden-dim", run.hidden_dim, "Hidden size")->capture_default_str();
  cmd->add_option("--batch-size", run.batch_size, "Rows per batch")->capture_default_str();
  cmd->add_option("--jobs", run.jobs, "Concurrent trainers")->capture_default_str();
  cmd->add_option("--batches", run.batches, "Batches per trainer (parallel phase)")
      ->capture_default_str();
  cmd->add_option("--latency-batches", run.latency_batches, "Batches of the sequential phase")
      ->capture_default_str();
  cmd->add_option("--ping", run.pings, "Mean delay per hop in seconds; several values = a sweep")
      ->capture_default_str();
  cmd->add_flag("--backprop", run.backprop, "Also send every batch back through the chain");
  cmd->add_option("--seed", run.seed, "Seed for inputs and delays")->capture_default_str();
  cmd->add_option("--timeout", run.timeout_s, "Seconds one phase may take")->capture_default_str();
  add_output_and_call_flags(cmd, out);
}

void add_compression(CLI::App& app, hm::bench::CompressionRun& run, Output& out) {
  auto* cmd = app.add_subcommand(
      "compression", "hivemind's benchmark_tensor_compression: a randn float32 tensor through "
                     "every kind; bytes, mean squared error, encode and decode GB/s on one core");
  cmd->add_option("--size", run.size, "Elements of the tensor")->capture_default_str();
  cmd->add_option("--seed", run.seed, "Seed of the values")->capture_default_str();
  cmd->add_option("--repeats", run.repeats, "Encodes and decodes per kind (the fastest counts)")
      ->capture_default_str();
  cmd->add_option("--kinds", run.kinds, "Only these kinds (default: all)")
      ->check(CLI::IsMember(hm::cli::compression_kind_names()));
  add_output_flags(cmd, out);
}

}  // namespace hm_bench
