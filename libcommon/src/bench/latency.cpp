#include "hm/bench/latency.h"

#include <chrono>
#include <memory>

#include "hm/base/error.h"
#include "hm/bench/presets.h"
#include "hm/bench/progress.h"
#include "hm/bench/server.h"
#include "hm/bench/tcp_floor.h"
#include "hm/bench/workload.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_client.h"

namespace hm::bench {

LatencyReport run_latency(const LatencyRun& run) {
  if (run.calls == 0) throw UsageError("--calls must be at least 1");
  if (run.batch_size == 0) throw UsageError("--batch-size must be at least 1");
  if (run.call != "forward" && run.call != "backward" && run.call != "info") {
    throw UsageError(fmt::format("--call '{}' is not forward, backward or info", run.call));
  }
  if (run.vs_tcp && !run.server.empty()) {
    throw UsageError("--vs-tcp times loopback TCP on this machine; it cannot be used with --server");
  }
  ThroughputParams check;
  check.expert_cls = run.expert_cls;
  check.hidden_dim = run.hidden_dim;
  check.batch_size = run.batch_size;
  check.max_batch_size = 0;
  validate(check);

  LatencyReport report;
  std::unique_ptr<InProcessServer> server;
  HostPort address;
  if (run.server.empty()) {
    moe::ExpertServerConfig config;
    config.uids = {bench_uid(0)};
    config.expert_cls = run.expert_cls;
    config.hidden_dim = run.hidden_dim;
    config.max_batch_size = static_cast<uint32_t>(std::max<size_t>(run.batch_size, 1));
    server = std::make_unique<InProcessServer>(config);
    address = server->address();
    report.startup_s = server->experts_startup_s() + server->networking_startup_s();
  } else {
    address = parse_host_port(run.server, "--server");
  }

  const auto inputs = client_inputs(run.expert_cls, run.hidden_dim, run.batch_size, 0, 0);
  const bool backward = run.call == "backward";
  const auto grads = backward ? output_grads(run.expert_cls, run.hidden_dim, run.batch_size)
                                  : std::vector<HostTensor>{};
  const std::string uid = bench_uid(0);
  const auto where = address.to_string();
  std::vector<double> us;
  us.reserve(run.calls);
  double elapsed = 0;
  {
    io::EventLoop loop;
    auto client = rpc::wait_for(loop, rpc::ExpertClient::connect(loop, address), run.timeout_s,
                                "connect to " + where);
    const std::string what = run.call + " on " + uid + " at " + where;
    auto call = [&] {
      const auto deadline = CallDeadline::in_seconds(run.timeout_s);  // sent to the server
      if (backward) {
        rpc::wait_for(loop, client->backward(uid, inputs, grads, deadline), run.timeout_s, what);
      } else if (run.call == "info") {
        rpc::wait_for(loop, client->info(uid), run.timeout_s, what);
      } else {
        rpc::wait_for(loop, client->forward(uid, inputs, deadline), run.timeout_s, what);
      }
    };
    for (size_t i = 0; i < run.warmup; ++i) call();
    Progress progress("latency", run.calls, run.progress);
    const auto begin = std::chrono::steady_clock::now();
    for (size_t i = 0; i < run.calls; ++i) {
      const auto start = std::chrono::steady_clock::now();
      call();
      us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count());
      progress.add();
    }
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  }
  report.us = summarize(std::move(us));
  report.calls_per_s = per_second(static_cast<double>(run.calls), elapsed);
  if (run.vs_tcp) {
    TcpFloorRun floor;
    floor.calls = run.calls;
    floor.warmup = run.warmup;
    floor.timeout_s = run.timeout_s;
    report.tcp_us = run_tcp_round_trips(floor);
  }
  return report;
}

}  // namespace hm::bench
