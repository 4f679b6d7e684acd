#include "hm/bench/report.h"

#include <fmt/format.h>

namespace hm::bench {
namespace {

nlohmann::json optional_number(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

std::string summary_line(const char* name, const Summary& s, const char* unit) {
  return fmt::format("{} ({} calls): p50 {:.3f} {}, p90 {:.3f}, p99 {:.3f}, max {:.3f}, mean {:.3f}",
                     name, s.count, s.p50, unit, s.p90, s.p99, s.max, s.mean);
}

}  // namespace

nlohmann::json to_json(const Summary& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"stddev", s.stddev}, {"min", s.min},
          {"p50", s.p50},     {"p90", s.p90},   {"p99", s.p99},       {"max", s.max}};
}

std::string to_text(const ThroughputRun& run, const ThroughputReport& r) {
  const auto& p = run.params;
  std::string out;
  out += "Benchmark finished, status: Success\n";
  out += fmt::format(
      "Server parameters: num_experts={}, max_batch_size={}, expert_cls={}, hid_dim={}, "
      "device={}{}\n",
      p.experts, p.max_batch_size, p.expert_cls, p.hidden_dim, p.device,
      run.server.empty() ? "" : ", server=" + run.server);
  out += fmt::format(
      "Client parameters: num_clients={} ({}), num_batches_per_client={}, batch_size={}, "
      "backprop={}, warmup={}, rounds={}\n",
      p.clients, run.client_argv.empty() ? "threads" : "processes", p.batches_per_client,
      p.batch_size, p.backprop ? "True" : "False", run.warmup, run.rounds);
  out += "Results:\n";
  if (run.server.empty()) {
    out += fmt::format("\tServer startup took {:.3f} s. ({:.3f} s. experts + {:.3f} s. networking)\n",
                       r.startup_s, r.experts_startup_s, r.networking_startup_s);
  }
  out += fmt::format("\tProcessed {} examples in {:.3f} s.\n", r.examples, r.elapsed_s);
  out += fmt::format("\tThroughput for {} passes: {:.3f} samples / s.\n",
                     p.backprop ? "forward + backward" : "forward", r.samples_per_s);
  out += "\t" + summary_line("Forward latency", r.forward_ms, "ms") + "\n";
  if (p.backprop) out += "\t" + summary_line("Backward latency", r.backward_ms, "ms") + "\n";
  if (r.local_samples_per_s) {
    out += fmt::format("\tLocal (no network): {:.3f} samples / s. ({:.3f} s.); ratio {:.3f}\n",
                       *r.local_samples_per_s, *r.local_elapsed_s, *r.ratio);
    out += fmt::format("\tCPU time: {:.3f} s. networked, {:.3f} s. local; samples per CPU second "
                       "ratio {:.3f}\n",
                       r.cpu_s, *r.local_cpu_s, *r.cpu_ratio);
  }
  for (const auto& line : r.server_stats) out += "\tServer: " + line + "\n";
  out += fmt::format("\tBenchmarking took {:.3f} s.\n", r.total_s);
  return out;
}

nlohmann::json to_json(const ThroughputRun& run, const ThroughputReport& r) {
  const auto& p = run.params;
  return {
      {"params",
       {{"experts", p.experts},
        {"clients", p.clients},
        {"batches_per_client", p.batches_per_client},
        {"batch_size", p.batch_size},
        {"hidden_dim", p.hidden_dim},
        {"expert_cls", p.expert_cls},
        {"max_batch_size", p.max_batch_size},
        {"backprop", p.backprop},
        {"device", p.device},
        {"server", run.server.empty() ? nlohmann::json(nullptr) : nlohmann::json(run.server)},
        {"client_processes", !run.client_argv.empty()},
        {"warmup", run.warmup},
        {"rounds", run.rounds}}},
      {"samples_per_s", r.samples_per_s},
      {"local_samples_per_s", optional_number(r.local_samples_per_s)},
      {"ratio", optional_number(r.ratio)},
      {"startup_s", r.startup_s},
      {"experts_startup_s", r.experts_startup_s},
      {"networking_startup_s", r.networking_startup_s},
      {"examples", r.examples},
      {"elapsed_s", r.elapsed_s},
      {"local_elapsed_s", optional_number(r.local_elapsed_s)},
      {"forward_ms", to_json(r.forward_ms)},
      {"backward_ms", to_json(r.backward_ms)},
      {"cpu_s", r.cpu_s},
      {"local_cpu_s", optional_number(r.local_cpu_s)},
      {"cpu_ratio", optional_number(r.cpu_ratio)},
      {"total_s", r.total_s},
  };
}

std::string to_text(const LatencyRun& run, const LatencyReport& r) {
  std::string out = fmt::format(
      "{} round trips of {} {} (batch {}, hidden {}){}\n", r.us.count,
      run.call, run.expert_cls, run.batch_size, run.hidden_dim,
      run.server.empty() ? "" : " at " + run.server);
  out += fmt::format("p50 {:.1f} us  p90 {:.1f} us  p99 {:.1f} us  max {:.1f} us\n", r.us.p50,
                     r.us.p90, r.us.p99, r.us.max);
  out += fmt::format("mean {:.1f} us (stddev {:.1f}), {:.0f} calls/s\n", r.us.mean, r.us.stddev,
                     r.calls_per_s);
  if (r.tcp_us) {
    out += fmt::format(
        "plain TCP round trip between two threads (the floor): p50 {:.1f} us  p99 {:.1f} us; "
        "the call's p50 is {:.2f}x\n",
        r.tcp_us->p50, r.tcp_us->p99, ratio(r.us.p50, r.tcp_us->p50));
  }
  return out;
}

nlohmann::json to_json(const LatencyRun& run, const LatencyReport& r) {
  return {{"calls", r.us.count},       {"expert_cls", run.expert_cls},
          {"batch_size", run.batch_size}, {"hidden_dim", run.hidden_dim},
          {"call", run.call},  {"p50_us", r.us.p50},
          {"p90_us", r.us.p90},        {"p99_us", r.us.p99},
          {"max_us", r.us.max},        {"mean_us", r.us.mean},
          {"min_us", r.us.min},        {"calls_per_s", r.calls_per_s},
          {"startup_s", r.startup_s},
          {"tcp_p50_us", optional_number(r.tcp_us ? r.tcp_us->p50 : std::optional<double>())},
          {"tcp_p99_us", optional_number(r.tcp_us ? r.tcp_us->p99 : std::optional<double>())},
          {"tcp_ratio", optional_number(r.tcp_us ? ratio(r.us.p50, r.tcp_us->p50)
                                                 : std::optional<double>())}};
}

std::string to_text(const DhtBenchRun& run, const DhtBenchReport& r) {
  std::string out;
  out += fmt::format("{} peers joined in {:.3f} s; {} experts in batches of {}\n", r.peers,
                     r.bootstrap_s, run.experts, run.batch);
  out += fmt::format("Store success rate: {:.1f}% ({} / {})\n", 100 * r.store_success,
                     r.store_ok, r.store_total);
  out += fmt::format("Mean store time: {:.5f} ms per key, Total: {:.3f} s\n", r.mean_store_ms,
                     r.store_s);
  if (r.stopped) out += fmt::format("Stopped {} peers before reading\n", r.stopped);
  out += fmt::format("Get success rate: {:.1f}% ({} / {})\n", 100 * r.get_success, r.get_ok,
                     r.get_total);
  out += fmt::format("Mean get time: {:.5f} ms per expert, Total: {:.3f} s\n", r.mean_get_ms,
                     r.get_s);
  out += fmt::format("Peak memory: {:.1f} MiB ({:.1f} MiB before the swarm started)\n",
                     r.peak_rss_mb, r.start_rss_mb);
  return out;
}

nlohmann::json to_json(const DhtBenchRun& run, const DhtBenchReport& r) {
  return {{"peers", r.peers},
          {"experts", run.experts},
          {"batch", run.batch},
          {"stopped", r.stopped},
          {"bootstrap_s", r.bootstrap_s},
          {"store_success", r.store_success},
          {"get_success", r.get_success},
          {"stores", r.store_total},
          {"stores_ok", r.store_ok},
          {"gets", r.get_total},
          {"gets_ok", r.get_ok},
          {"mean_store_ms", r.mean_store_ms},
          {"mean_get_ms", r.mean_get_ms},
          {"store_s", r.store_s},
          {"get_s", r.get_s},
          {"peak_rss_mb", r.peak_rss_mb},
          {"start_rss_mb", r.start_rss_mb}};
}

std::string to_text(const ChainRun& run, const ChainReport& r) {
  std::string out = fmt::format(
      "Chain of {} {} blocks (hidden {}), batch {}, {}; {} trainers x {} batches vs one x {}\n",
      run.blocks, run.expert_cls, run.hidden_dim, run.batch_size,
      run.backprop ? "forward + backward" : "forward", run.jobs, run.batches, run.latency_batches);
  out += fmt::format("{:>8}  {:>18}  {:>16}  {:>16}  {:>8}\n", "ping_s", "latency_s",
                     "sequential/s", "parallel/s", "speedup");
  for (const auto& row : r.rows) {
    out += fmt::format("{:>8.3f}  {:>9.4f}+-{:<7.4f}  {:>16.1f}  {:>16.1f}  {:>8.2f}\n",
                       row.ping_s, row.latency_s.mean, row.latency_s.stddev,
                       row.sequential_samples_per_s, row.parallel_samples_per_s, row.speedup);
  }
  return out;
}

nlohmann::json to_json(const ChainRun& run, const ChainReport& r) {
  auto rows = nlohmann::json::array();
  for (const auto& row : r.rows) {
    rows.push_back({{"ping_s", row.ping_s},
                    {"latency_s", row.latency_s.mean},
                    {"latency_std_s", row.latency_s.stddev},
                    {"sequential_samples_per_s", row.sequential_samples_per_s},
                    {"parallel_samples_per_s", row.parallel_samples_per_s},
                    {"speedup", row.speedup}});
  }
  return {{"blocks", run.blocks},         {"expert_cls", run.expert_cls},
          {"hidden_dim", run.hidden_dim}, {"batch_size", run.batch_size},
          {"jobs", run.jobs},             {"backprop", run.backprop},
          {"startup_s", r.startup_s},     {"rows", rows}};
}

std::string to_text(const CompressionRun& run, const CompressionReport& r) {
  std::string out = fmt::format(
      "{} float32 values (randn, seed {}), fastest of {} on one thread; GB/s of float32\n",
      run.size, run.seed, run.repeats);
  out += fmt::format("{:<12} {:>12} {:>7} {:>12} {:>12} {:>12}\n", "kind", "bytes", "ratio",
                     "mse", "encode GB/s", "decode GB/s");
  const double raw = static_cast<double>(run.size) * sizeof(float);
  for (const auto& k : r.kinds) {
    out += fmt::format("{:<12} {:>12} {:>7.3f} {:>12.4g} {:>12.2f} {:>12.2f}\n", k.kind, k.bytes,
                       ratio(static_cast<double>(k.bytes), raw), k.mse, k.encode_gbps,
                       k.decode_gbps);
  }
  return out;
}

nlohmann::json to_json(const CompressionRun& run, const CompressionReport& r) {
  auto kinds = nlohmann::json::object();
  for (const auto& k : r.kinds) {
    kinds[k.kind] = {{"bytes", k.bytes},
                     {"mse", k.mse},
                     {"encode_gbps", k.encode_gbps},
                     {"decode_gbps", k.decode_gbps}};
  }
  return {{"size", run.size}, {"seed", run.seed}, {"repeats", run.repeats}, {"kinds", kinds}};
}

}  // namespace hm::bench
