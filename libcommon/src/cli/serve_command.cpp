#include "hm/cli/serve_command.h"

#include <cstdio>
#include <optional>

#include "hm/base/error.h"
#include "hm/base/expert_uid.h"
#include "hm/base/file_limit.h"
#include "hm/base/log.h"
#include "hm/cli/metrics_server.h"
#include "hm/dht/dht_metrics.h"
#include "hm/discovery/dht_join.h"
#include "hm/discovery/expert_declarer.h"
#include "hm/io/busy_idle.h"
#include "hm/io/busy_poll.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_server.h"

namespace hm::cli {
namespace {

// Logs per-pool throughput every `seconds` until the loop stops.
kj::Promise<void> report_stats(io::EventLoop& loop, const ServedExperts& experts,
                               double seconds) {
  return loop.timer()
      .afterDelay(static_cast<int64_t>(seconds * 1000) * kj::MILLISECONDS)
      .then([&loop, &experts, seconds] {
        for (const auto& line : experts.stats_report()) spdlog::info("{}", line);
        return report_stats(loop, experts, seconds);
      });
}

}  // namespace

void check_serve_flags(const ServeFlags& flags) {
  parse_host_port(flags.listen, "--listen");
  if (flags.max_batch_size == 0) throw UsageError("--max-batch-size must be at least 1");
  if (flags.min_batch_size > flags.max_batch_size) {
    throw UsageError(fmt::format("--min-batch-size {} exceeds --max-batch-size {}",
                                 flags.min_batch_size, flags.max_batch_size));
  }
}

std::vector<std::string> choose_uids(const ServeFlags& flags) {
  if (!flags.expert_uids.empty()) {
    if (flags.num_experts || !flags.expert_pattern.empty()) {
      throw UsageError("give either --expert-uids or --num-experts/--expert-pattern, not both");
    }
    for (const auto& uid : flags.expert_uids) {
      if (!is_valid_uid(uid)) {
        throw UsageError(fmt::format(
            "--expert-uids: '{}' is not a valid uid (expected PREFIX.N[.N...], e.g. ffn.0.3)",
            uid));
      }
    }
    return flags.expert_uids;
  }
  if (!flags.expert_pattern.empty()) {
    auto pattern = ExpertPattern::parse(flags.expert_pattern);
    size_t count = flags.num_experts ? flags.num_experts : pattern.capacity();
    return pattern.sample(count, flags.seed);
  }
  if (!flags.num_experts) {
    if (!flags.checkpoint_dir.empty()) return {};  // host what the checkpoints hold
    throw UsageError("no experts: give --expert-uids UID... or --num-experts N "
                     "(with --expert-pattern 'prefix.[0:4].[0:4]')");
  }
  std::vector<std::string> uids;
  for (size_t i = 0; i < flags.num_experts; ++i) uids.push_back(fmt::format("expert.{}", i));
  return uids;
}

uint32_t fit_connections(uint32_t connections) {
  constexpr size_t kOtherFiles = 64;
  const size_t wanted = size_t{connections} + kOtherFiles;
  const size_t limit = raise_file_limit(wanted);
  if (limit == 0 || limit >= wanted) return connections;  // 0: the limit is unknown
  auto fit = static_cast<uint32_t>(limit > 2 * kOtherFiles ? limit - kOtherFiles : limit / 2);
  spdlog::warn("--max-connections {} needs about {} open files but the limit is {}: serving at "
               "most {} connections (raise the limit with ulimit -n)",
               connections, wanted, limit, fit);
  return fit;
}

HostPort announced_address(const std::string& announce, const HostPort& bound) {
  HostPort address = bound;
  if (!announce.empty()) {
    address.host = announce;
  } else if (bound.host == "0.0.0.0" || bound.host == "::") {
    throw UsageError(fmt::format(
        "--dht with --listen {}: give --announce HOST, the address clients can reach",
        bound.to_string()));
  }
  return address;
}

int serve(const ServeFlags& flags, const std::function<ServedExperts()>& build) {
  auto address = parse_host_port(flags.listen, "--listen");
  std::optional<io::BusyIdle> busy_idle;
  if (flags.busy_idle) busy_idle.emplace();
  io::set_busy_poll(std::chrono::microseconds(flags.busy_poll_us));

  auto metrics = serve_metrics(flags.metrics);
  io::EventLoop loop;
  auto signal = loop.termination_signal();  // from here on, SIGTERM is graceful
  ServedExperts experts = build();
  size_t expert_count = experts.host->uids().size();  // with the uids restored from checkpoints
  auto limits = flags.limits.limits();
  limits.max_connections = fit_connections(limits.max_connections);
  rpc::ExpertRpcServer server(loop, *experts.host, limits, flags.compression);
  auto bound = server.listen(address);

  // The DHT node shares the server's port number (UDP beside TCP).
  std::unique_ptr<dht::DhtNode> dht;
  std::unique_ptr<discovery::ExpertDeclarer> declarer;
  std::optional<dht::DhtMetrics> dht_metrics;
  if (!flags.dht_peers.empty()) {
    auto peers = discovery::parse_peers(flags.dht_peers, "--dht");
    auto announced = announced_address(flags.announce, bound);
    dht::DhtConfig dht_config;
    dht_config.listen = io::Endpoint::parse(bound.to_string(), "--listen");
    flags.dht_limits.apply(dht_config.protocol, dht_config.storage);
    dht = std::make_unique<dht::DhtNode>(loop, dht_config);
    dht_metrics.emplace(loop, [&dht] { return std::vector<dht::DhtStats>{dht->stats()}; });
    rpc::wait_for(loop, discovery::join(*dht, peers), 30, "joining the DHT");
    declarer = std::make_unique<discovery::ExpertDeclarer>(loop, *dht, experts.host->uids(),
                                                           announced, flags.update_period);
    declarer->start();
    spdlog::info("joined the DHT; declaring {} experts as {} every {} s", expert_count,
                 announced.to_string(), flags.update_period);
  }
  std::printf("%s\n", bound.to_string().c_str());
  std::fflush(stdout);
  spdlog::info("serving {} {} expert{} on {} ({})", expert_count,
               flags.module.empty() ? flags.expert_cls : flags.module,
               expert_count == 1 ? "" : "s", bound.to_string(), flags.device);

  if (flags.stats_every > 0) loop.detach(report_stats(loop, experts, flags.stats_every));
  int signal_number = loop.wait(kj::mv(signal));
  spdlog::info("signal {}: shutting down", signal_number);
  server.stop_accepting();
  if (declarer) declarer->stop();
  experts.stop();  // fails queued tasks with "server shutting down"; final checkpoint
  // Let the answers that the runtime just produced reach their clients.
  loop.wait(loop.timer().afterDelay(100 * kj::MILLISECONDS));
  return 0;
}

}  // namespace hm::cli
