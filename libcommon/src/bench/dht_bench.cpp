#include "hm/bench/dht_bench.h"

#include <algorithm>
#include <unordered_set>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/bench/progress.h"
#include "hm/bench/stats.h"
#include "hm/dht/node_group.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/discovery/expert_records.h"

namespace hm::bench {
namespace {

HostPort random_server(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> octet(0, 255), port(1, 65535);
  return {fmt::format("{}.{}.{}.{}", octet(rng), octet(rng), octet(rng), octet(rng)),
          static_cast<uint16_t>(port(rng))};
}

}  // namespace

std::vector<std::string> random_expert_uids(size_t count, std::mt19937_64& rng) {
  require(count <= 1'000'000'000, "{} experts: at most 10^9 distinct uids expert.A.B.C", count);
  std::uniform_int_distribution<int> coord(0, 999);
  std::unordered_set<std::string> seen;
  std::vector<std::string> uids;
  uids.reserve(count);
  while (uids.size() < count) {
    auto uid = fmt::format("expert.{}.{}.{}", coord(rng), coord(rng), coord(rng));
    if (seen.insert(uid).second) uids.push_back(std::move(uid));
  }
  return uids;
}

DhtBenchReport run_dht_bench(const DhtBenchRun& run) {
  if (run.peers < 2) throw UsageError("--peers must be at least 2 (one stores, one reads)");
  if (run.batch == 0) throw UsageError("--batch must be at least 1");
  if (!(run.expiration > 0)) throw UsageError("--expiration must be positive");
  if (!(run.failure_rate >= 0 && run.failure_rate < 1)) {
    throw UsageError(fmt::format("--failure-rate {} is outside [0, 1)", run.failure_rate));
  }
  DhtBenchReport report;
  report.peers = run.peers;
  std::mt19937_64 rng(run.seed);
  const auto uids = random_expert_uids(run.experts, rng);

  report.start_rss_mb = current_rss_mb();
  io::EventLoop loop;
  dht::DhtConfig config;
  config.listen = io::Endpoint::from_ip_bytes(std::vector<uint8_t>{127, 0, 0, 1}, 0);
  dht::NodeGroup nodes(loop, config, run.peers);
  const double t0 = monotonic_seconds();
  try {
    rpc::wait_for(loop, nodes.bootstrap({}, true), run.timeout_s, "joining the swarm");
  } catch (const Error& e) {
    fail("the swarm could not form: {}", e.what());
  }
  report.bootstrap_s = monotonic_seconds() - t0;
  spdlog::info("{} peers joined in {:.2f} s", run.peers, report.bootstrap_s);

  const size_t batches = (uids.size() + run.batch - 1) / run.batch;
  Progress progress("dht", 2 * batches, run.progress);
  std::vector<std::string> servers;
  for (size_t b = 0; b < batches; ++b) {
    const size_t first = b * run.batch, count = std::min(run.batch, uids.size() - first);
    const HostPort server = random_server(rng);
    servers.push_back(server.to_string());
    auto entries = discovery::declaration_entries(std::span(uids).subspan(first, count), server,
                                              dht::system_dht_time() + run.expiration);
    const double start = monotonic_seconds();
    auto accepted = rpc::wait_for(loop, nodes.node(run.peers - 2).store(entries), run.timeout_s,
                                  "storing a batch");
    report.store_s += monotonic_seconds() - start;
    report.store_total += entries.size();
    report.store_ok += static_cast<size_t>(std::count(accepted.begin(), accepted.end(), true));
    progress.add();
  }

  // Stop random nodes other than the two that store and read.
  const auto stop = static_cast<size_t>(run.failure_rate * static_cast<double>(run.peers));
  std::vector<size_t> victims(run.peers - 2);
  for (size_t i = 0; i < victims.size(); ++i) victims[i] = i;
  std::shuffle(victims.begin(), victims.end(), rng);
  victims.resize(std::min(stop, victims.size()));
  std::sort(victims.rbegin(), victims.rend());  // highest first: indices shift down
  for (size_t i : victims) nodes.stop(i);
  report.stopped = victims.size();

  dht::DhtNode& reader = nodes.node(nodes.size() - 1);
  for (size_t b = 0; b < batches; ++b) {
    const size_t first = b * run.batch, count = std::min(run.batch, uids.size() - first);
    std::vector<std::string> keys(uids.begin() + static_cast<std::ptrdiff_t>(first),
                                  uids.begin() + static_cast<std::ptrdiff_t>(first + count));
    const double start = monotonic_seconds();
    auto values = rpc::wait_for(loop, reader.get(keys, false), run.timeout_s, "reading a batch");
    report.get_s += monotonic_seconds() - start;
    for (size_t i = 0; i < values.size() && i < count; ++i) {
      const auto& v = values[i];
      if (v && !v->is_dictionary && v->value == servers[b]) ++report.get_ok;
    }
    report.get_total += count;
    progress.add();
  }
  progress.finish();
  report.store_success = ratio(static_cast<double>(report.store_ok),
                               static_cast<double>(report.store_total));
  report.get_success =
      ratio(static_cast<double>(report.get_ok), static_cast<double>(report.get_total));
  report.mean_store_ms = 1000 * ratio(report.store_s, static_cast<double>(report.store_total));
  report.mean_get_ms = 1000 * ratio(report.get_s, static_cast<double>(report.get_total));
  report.peak_rss_mb = peak_rss_mb();
  report.swarm_summary = nodes.summary();
  return report;
}

}  // namespace hm::bench
