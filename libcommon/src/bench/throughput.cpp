#include "hm/bench/throughput.h"

#include <algorithm>
#include <exception>
#include <latch>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "hm/base/error.h"
#include "hm/base/file_limit.h"
#include "hm/base/log.h"
#include "hm/bench/client.h"
#include "hm/bench/client_process.h"
#include "hm/bench/local.h"
#include "hm/bench/progress.h"
#include "hm/bench/server.h"

namespace hm::bench {
namespace {

moe::ExpertServerConfig server_config(const ThroughputParams& p) {
  moe::ExpertServerConfig config;
  for (size_t i = 0; i < p.experts; ++i) config.uids.push_back(bench_uid(i));
  config.expert_cls = p.expert_cls;
  config.hidden_dim = p.hidden_dim;
  config.max_batch_size = p.max_batch_size;
  config.device = p.device;
  return config;
}

std::vector<ClientSpec> client_specs(const ThroughputRun& run, const HostPort& server) {
  std::vector<ClientSpec> specs;
  for (size_t c = 0; c < run.params.clients; ++c) {
    ClientSpec s;
    s.server = server;
    s.index = c;
    s.experts = run.params.experts;
    s.batches = run.params.batches_per_client;
    s.warmup = run.warmup;
    s.batch_size = run.params.batch_size;
    s.hidden_dim = run.params.hidden_dim;
    s.expert_cls = run.params.expert_cls;
    s.backprop = run.params.backprop;
    s.seed = run.seed;
    s.timeout_s = run.timeout_s;
    s.compression = run.compression;
    specs.push_back(std::move(s));
  }
  return specs;
}

// Every client on a thread of its own; all start together.
std::vector<ClientResult> run_client_threads(const std::vector<ClientSpec>& specs,
                                             Progress& progress) {
  std::latch start(static_cast<std::ptrdiff_t>(specs.size()));
  std::vector<ClientResult> results(specs.size());
  std::mutex error_mutex;
  std::exception_ptr error;
  std::vector<std::thread> threads;
  for (size_t i = 0; i < specs.size(); ++i) {
    threads.emplace_back([&, i] {
      bool arrived = false;
      ClientHooks hooks;
      hooks.ready = [&] {
        arrived = true;
        start.arrive_and_wait();
      };
      hooks.batch_done = [&] { progress.add(); };
      try {
        results[i] = run_client(specs[i], hooks);
      } catch (...) {
        if (!arrived) start.count_down();
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  return results;
}

}  // namespace

ThroughputReport run_throughput(const ThroughputRun& run) {
  validate(run.params);
  if (run.rounds == 0) throw UsageError("--rounds must be at least 1");
  const auto& p = run.params;
  ThroughputReport report;
  const double began = monotonic_seconds();
  if (p.clients > 200) raise_file_limit();

  std::unique_ptr<InProcessServer> server;
  HostPort address;
  if (run.server.empty()) {
    server = std::make_unique<InProcessServer>(server_config(p), HostPort{"127.0.0.1", 0},
                                               run.compression);
    address = server->address();
    report.experts_startup_s = server->experts_startup_s();
    report.networking_startup_s = server->networking_startup_s();
    report.startup_s = report.experts_startup_s + report.networking_startup_s;
    spdlog::info("server ready on {} in {:.3f} s ({:.3f} s experts + {:.3f} s networking)",
                 address.to_string(), report.startup_s, report.experts_startup_s,
                 report.networking_startup_s);
  } else {
    address = parse_host_port(run.server, "--server");
  }

  const auto specs = client_specs(run, address);
  // With --vs-local the local experts live beside the server's, so that the
  // rounds can alternate (the machine's speed drifts over minutes).
  std::unique_ptr<LocalRunner> local;
  if (run.vs_local) local = std::make_unique<LocalRunner>(p, run.warmup, run.seed);

  std::vector<double> forward, backward;
  double local_samples = 0, local_elapsed = 0, local_cpu = 0;
  for (size_t round = 0; round < run.rounds; ++round) {
    std::vector<ClientResult> results;
    const double cpu_before = cpu_seconds();
    {
      Progress progress(run.rounds > 1 ? fmt::format("throughput {}/{}", round + 1, run.rounds)
                                       : std::string("throughput"),
                        p.clients * p.batches_per_client, run.progress);
      if (run.client_argv.empty()) {
        results = run_client_threads(specs, progress);
      } else {
        results = run_client_processes(run.client_argv, specs, [&] { progress.add(); });
      }
    }
    // Includes the clients' connecting and warmup: a small bias against the
    // network path.
    report.cpu_s += cpu_seconds() - cpu_before;
    double first = results.front().start_s, last = results.front().end_s;
    for (const auto& r : results) {
      first = std::min(first, r.start_s);
      last = std::max(last, r.end_s);
      report.examples += r.samples;
      for (double us : r.forward_us) forward.push_back(us / 1000.0);
      for (double us : r.backward_us) backward.push_back(us / 1000.0);
    }
    report.elapsed_s += last - first;
    if (local) {
      Progress progress("local", p.clients * p.batches_per_client, run.progress);
      auto result = local->run([&] { progress.add(); });
      local_samples += static_cast<double>(result.samples);
      local_elapsed += result.elapsed_s;
      local_cpu += result.cpu_s;
    }
  }
  if (server) report.server_stats = server->host().stats_report();
  report.samples_per_s = per_second(static_cast<double>(report.examples), report.elapsed_s);
  report.forward_ms = summarize(std::move(forward));
  report.backward_ms = summarize(std::move(backward));
  if (local) {
    report.local_elapsed_s = local_elapsed;
    report.local_cpu_s = local_cpu;
    report.local_samples_per_s = per_second(local_samples, local_elapsed);
    report.ratio = ratio(report.samples_per_s, *report.local_samples_per_s);
    report.cpu_ratio = ratio(ratio(static_cast<double>(report.examples), report.cpu_s),
                             ratio(local_samples, local_cpu));
  }
  report.total_s = monotonic_seconds() - began;
  return report;
}

ThroughputRun throughput_run(const ThroughputFlags& flags, unsigned busy_poll_us) {
  auto overrides = flags.overrides;
  if (flags.backprop) overrides.backprop = true;
  if (flags.no_backprop) overrides.backprop = false;
  ThroughputRun run = flags.run;
  run.params = apply(throughput_preset(flags.preset), overrides);
  if (flags.client_processes) {
    run.client_argv = {self_executable(), "_client", "--busy-poll", std::to_string(busy_poll_us)};
  }
  return run;
}

}  // namespace hm::bench
