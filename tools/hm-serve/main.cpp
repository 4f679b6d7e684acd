// hm-serve: host experts for a swarm. Batches incoming requests per expert,
// runs them on one runtime thread per device, trains on backward.
//   hm-serve --listen 127.0.0.1:0 --num-experts 16 --expert-pattern 'ffn.[0:4].[0:4]'
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "hm/base/address.h"
#include "hm/base/allocator.h"
#include "hm/base/expert_uid.h"
#include "hm/cli/app.h"
#include "hm/cli/busy_poll_flag.h"
#include "hm/cli/limit_flags.h"
#include "hm/io/busy_idle.h"
#include "hm/io/event_loop.h"
#include "hm/moe/expert_server_host.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_server.h"
#include "hm/swarm/dht_join.h"
#include "hm/swarm/expert_declarer.h"
#include "hm/tensor/tensor_spec_parse.h"

namespace {

struct Flags {
  std::string listen = "127.0.0.1:0";
  std::vector<std::string> expert_uids;
  size_t num_experts = 0;
  std::string expert_pattern;
  std::string expert_cls = "ffn";
  int64_t hidden_dim = 1024;
  std::string module;
  std::vector<std::string> module_inputs;
  uint32_t max_batch_size = 4096;
  uint32_t min_batch_size = 1;
  double max_wait_ms = 50;
  std::string device = "cpu";
  std::string optimizer = "adam";
  double lr = 0;
  double clip_grad_norm = 0;
  uint64_t seed = 0;
  double stats_every = 0;
  bool busy_idle = false;
  unsigned busy_poll_us = 0;
  hm::cli::ServerLimitFlags limits;
  hm::cli::DhtLimitFlags dht_limits;
  std::vector<std::string> dht_peers;
  double update_period = 30;
  std::string announce;
  std::string checkpoint_dir;
  double checkpoint_every = 0;
};

std::vector<std::string> choose_uids(const Flags& flags) {
  if (!flags.expert_uids.empty()) {
    if (flags.num_experts || !flags.expert_pattern.empty()) {
      throw hm::UsageError("give either --expert-uids or --num-experts/--expert-pattern, not both");
    }
    for (const auto& uid : flags.expert_uids) {
      if (!hm::is_valid_uid(uid)) {
        throw hm::UsageError(fmt::format(
            "--expert-uids: '{}' is not a valid uid (expected PREFIX.N[.N...], e.g. ffn.0.3)",
            uid));
      }
    }
    return flags.expert_uids;
  }
  if (!flags.expert_pattern.empty()) {
    auto pattern = hm::ExpertPattern::parse(flags.expert_pattern);
    size_t count = flags.num_experts ? flags.num_experts : pattern.capacity();
    return pattern.sample(count, flags.seed);
  }
  if (!flags.num_experts) {
    if (!flags.checkpoint_dir.empty()) return {};  // host what the checkpoints hold
    throw hm::UsageError("no experts: give --expert-uids UID... or --num-experts N "
                         "(with --expert-pattern 'prefix.[0:4].[0:4]')");
  }
  std::vector<std::string> uids;
  for (size_t i = 0; i < flags.num_experts; ++i) uids.push_back(fmt::format("expert.{}", i));
  return uids;
}

hm::moe::ExpertServerConfig make_config(const Flags& flags, std::vector<std::string> uids) {
  hm::moe::ExpertServerConfig config;
  config.uids = std::move(uids);
  config.expert_cls = flags.module.empty() ? flags.expert_cls : "module";
  config.hidden_dim = flags.hidden_dim;
  config.module_path = flags.module;
  for (const auto& text : flags.module_inputs) {
    config.module_inputs.push_back(hm::parse_tensor_spec(text));
  }
  config.optimizer = flags.optimizer;
  if (flags.lr > 0) config.lr = flags.lr;
  if (flags.clip_grad_norm > 0) config.clip_grad_norm = flags.clip_grad_norm;
  config.max_batch_size = flags.max_batch_size;
  config.min_batch_size = flags.min_batch_size;
  config.max_wait = std::chrono::milliseconds(static_cast<int64_t>(flags.max_wait_ms));
  config.device = flags.device;
  config.seed = flags.seed;
  config.checkpoint_dir = flags.checkpoint_dir;
  config.checkpoint_every =
      std::chrono::milliseconds(static_cast<int64_t>(flags.checkpoint_every * 1000));
  return config;
}

// Logs per-pool throughput every `seconds` until the loop stops.
kj::Promise<void> report_stats(hm::io::EventLoop& loop, hm::moe::ExpertServerHost& host,
                               double seconds) {
  return loop.timer()
      .afterDelay(static_cast<int64_t>(seconds * 1000) * kj::MILLISECONDS)
      .then([&loop, &host, seconds] {
        for (const auto& line : host.stats_report()) spdlog::info("{}", line);
        return report_stats(loop, host, seconds);
      });
}

// Lets the server hold `connections` sockets (plus files, the DHT socket,
// the listening one): raises the open-file limit up to its hard limit.
// Returns how many connections fit: fewer when the hard limit is too low, so
// that --max-connections (which makes room by closing silent connections)
// bites before accept() runs out of file descriptors.
uint32_t fit_connections(uint32_t connections) {
  constexpr rlim_t kOtherFiles = 64;
  const rlim_t wanted = rlim_t{connections} + kOtherFiles;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return connections;
  limit.rlim_cur = std::min(limit.rlim_max, wanted);
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur >= wanted) return connections;
  auto fit = static_cast<uint32_t>(limit.rlim_cur > 2 * kOtherFiles ? limit.rlim_cur - kOtherFiles
                                                                    : limit.rlim_cur / 2);
  spdlog::warn("--max-connections {} needs about {} open files but the limit is {}: serving at "
               "most {} connections (raise the limit with ulimit -n)",
               connections, wanted, limit.rlim_cur, fit);
  return fit;
}

// The address the swarm should call: --announce HOST, else the bound one.
hm::HostPort announced_address(const Flags& flags, const hm::HostPort& bound) {
  hm::HostPort address = bound;
  if (!flags.announce.empty()) {
    address.host = flags.announce;
  } else if (bound.host == "0.0.0.0" || bound.host == "::") {
    throw hm::UsageError(fmt::format(
        "--dht with --listen {}: give --announce HOST, the address clients can reach",
        bound.to_string()));
  }
  return address;
}

int serve(const Flags& flags) {
  auto address = hm::parse_host_port(flags.listen, "--listen");
  if (flags.max_batch_size == 0) throw hm::UsageError("--max-batch-size must be at least 1");
  if (flags.min_batch_size > flags.max_batch_size) {
    throw hm::UsageError(fmt::format("--min-batch-size {} exceeds --max-batch-size {}",
                                     flags.min_batch_size, flags.max_batch_size));
  }
  auto config = make_config(flags, choose_uids(flags));
  std::optional<hm::io::BusyIdle> busy_idle;
  if (flags.busy_idle) busy_idle.emplace();
  hm::cli::apply_busy_poll(flags.busy_poll_us);

  hm::io::EventLoop loop;
  auto signal = loop.termination_signal();  // from here on, SIGTERM is graceful
  hm::moe::ExpertServerHost host(std::move(config));
  size_t expert_count = host.uids().size();  // with the uids restored from checkpoints
  auto limits = flags.limits.limits();
  limits.max_connections = fit_connections(limits.max_connections);
  hm::rpc::ExpertRpcServer server(loop, host, limits);
  auto bound = server.listen(address);

  // The DHT node shares the server's port number (UDP beside TCP).
  std::unique_ptr<hm::dht::DhtNode> dht;
  std::unique_ptr<hm::swarm::ExpertDeclarer> declarer;
  if (!flags.dht_peers.empty()) {
    auto peers = hm::swarm::parse_peers(flags.dht_peers, "--dht");
    auto announced = announced_address(flags, bound);
    hm::dht::DhtConfig dht_config;
    dht_config.listen = hm::io::Endpoint::parse(bound.to_string(), "--listen");
    flags.dht_limits.apply(dht_config.protocol, dht_config.storage);
    dht = std::make_unique<hm::dht::DhtNode>(loop.uv(), dht_config);
    hm::rpc::wait_for(loop, hm::swarm::join(*dht, peers), 30, "joining the DHT");
    declarer = std::make_unique<hm::swarm::ExpertDeclarer>(loop.uv(), *dht, host.uids(),
                                                           announced, flags.update_period);
    declarer->start();
    spdlog::info("joined the DHT; declaring {} experts as {} every {} s", expert_count,
                 announced.to_string(), flags.update_period);
  }
  std::printf("%s\n", bound.to_string().c_str());
  std::fflush(stdout);
  spdlog::info("serving {} {} expert{} on {} ({})", expert_count, flags.module.empty() ? flags.expert_cls : flags.module,
               expert_count == 1 ? "" : "s", bound.to_string(), flags.device);

  if (flags.stats_every > 0) loop.detach(report_stats(loop, host, flags.stats_every));
  int signal_number = loop.wait(kj::mv(signal));
  spdlog::info("signal {}: shutting down", signal_number);
  server.stop_accepting();
  if (declarer) declarer->stop();
  host.stop();  // fails queued tasks with "server shutting down"; final checkpoint
  // Let the answers that the runtime just produced reach their clients.
  loop.wait(loop.timer().afterDelay(100 * kj::MILLISECONDS));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  hm::tune_allocator();
  CLI::App app{
      "Host experts for a decentralized mixture of experts: serve forward and backward "
      "calls over Cap'n Proto RPC, batching requests per expert, and train each expert on "
      "every backward batch. Prints the bound HOST:PORT as the first line on stdout.",
      "hm-serve"};
  hm::cli::CommonFlags common;
  hm::cli::add_common_flags(app, common);
  Flags flags;
  app.add_option("--listen,-l", flags.listen, "HOST:PORT to listen on (port 0 = any free port)")
      ->capture_default_str();
  app.add_option("--expert-uids", flags.expert_uids, "Host exactly these uids (e.g. ffn.0.0 ffn.0.1)");
  app.add_option("--num-experts,-n", flags.num_experts,
                 "Host this many experts (uids from --expert-pattern, else expert.0 ...)");
  app.add_option("--expert-pattern", flags.expert_pattern,
                 "Pick uids at random from a grid, e.g. 'ffn.[0:4].[0:4]' (all of it when "
                 "--num-experts is not given)");
  app.add_option("--expert-cls", flags.expert_cls,
                 "Built-in expert kind: ffn, transformer, det_dropout, nop, nop_delay")
      ->capture_default_str()
      ->check(CLI::IsMember({"ffn", "transformer", "det_dropout", "nop", "nop_delay"}));
  app.add_option("--hidden-dim", flags.hidden_dim, "Hidden size of the built-in experts")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--module", flags.module,
                 "Host this TorchScript module file (torch.jit.save) under every uid")
      ->check(CLI::ExistingFile);
  app.add_option("--module-inputs", flags.module_inputs,
                 "--module's inputs, e.g. 'float32[*,64]' 'int64[*]' (default: one "
                 "float32[*,HIDDEN_DIM])");
  app.add_option("--max-batch-size", flags.max_batch_size,
                 "Most rows in one batch; a request with more is refused")
      ->capture_default_str();
  app.add_option("--min-batch-size", flags.min_batch_size,
                 "Wait for this many rows before running a batch (at most --max-wait-ms)")
      ->capture_default_str();
  app.add_option("--max-wait-ms", flags.max_wait_ms,
                 "Longest a request waits for --min-batch-size rows")
      ->capture_default_str();
  app.add_option("--device", flags.device, "cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--optimizer", flags.optimizer, "adam, sgd or none")
      ->capture_default_str()
      ->check(CLI::IsMember({"adam", "sgd", "none"}));
  app.add_option("--lr", flags.lr, "Learning rate (default: 0.001 for adam, 0.01 for sgd)");
  app.add_option("--clip-grad-norm", flags.clip_grad_norm,
                 "Clip each expert's gradient norm to this before a step (0 = off)");
  app.add_option("--seed", flags.seed,
                 "Seed for expert weights (each expert's weights depend on seed and uid) and "
                 "for --expert-pattern")
      ->capture_default_str();
  app.add_option("--stats-every", flags.stats_every,
                 "Log batches/s, samples/s and mean batch size per pool every SECONDS (0 = off)")
      ->capture_default_str();
  app.add_flag("--busy-idle", flags.busy_idle,
               "Keep idle CPUs polling while serving (/dev/cpu_dma_latency; root): lower "
               "latency on machines whose idle CPUs halt, at the cost of busy CPUs");
  hm::cli::add_busy_poll_flag(app, flags.busy_poll_us);
  hm::cli::add_server_limit_flags(app, flags.limits);
  app.add_option("--dht", flags.dht_peers,
                 "Join the DHT through these peers (HOST:PORT...) and declare every expert "
                 "there; the DHT node uses the server's port number over UDP");
  app.add_option("--update-period", flags.update_period,
                 "With --dht: re-declare the experts every SECONDS (they expire after twice that)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  hm::cli::add_dht_limit_flags(app, flags.dht_limits);
  app.add_option("--announce", flags.announce,
                 "With --dht: the host clients should call (default: the --listen host)");
  auto* checkpoint_dir = app.add_option("--checkpoint-dir", flags.checkpoint_dir,
                 "Save each expert (weights, optimizer state, step count) to DIR/UID.pt at "
                 "shutdown; at start, restore and host every expert found there");
  app.add_option("--checkpoint-every", flags.checkpoint_every,
                 "With --checkpoint-dir: also save every SECONDS (0 = only at shutdown)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->needs(checkpoint_dir);
  return hm::cli::run(app, argc, argv, common, [&] { return serve(flags); });
}
