// hm-dht: run DHT nodes, or store, get and ping from a shell.
//   hm-dht --listen 127.0.0.1:7000 --nodes 64          # a swarm; prints the addresses
//   hm-dht --peers 127.0.0.1:7000                      # one more node joins it
//   hm-dht store --peers 127.0.0.1:7000 KEY VALUE [--subkey S] [--ttl 300]
//   hm-dht get --peers 127.0.0.1:7000 KEY [--latest] [--json]
//   hm-dht ping 127.0.0.1:7000
#include <sys/resource.h>
#include <uv.h>

#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "hm/base/allocator.h"
#include "hm/cli/app.h"
#include "hm/cli/limit_flags.h"
#include "hm/discovery/dht_join.h"
#include "hm/discovery/expert_listing.h"
#include "hm/dht/node.h"
#include "hm/dht/node_group.h"
#include "hm/io/signals.h"
#include "hm/io/uv_timer.h"

namespace {

using hm::dht::DhtConfig;
using hm::dht::DhtNode;
using hm::io::Endpoint;

constexpr double kClientSeconds = 60;  // a whole store or get, bootstrap included

struct Flags {
  std::string listen = "0.0.0.0:0";
  std::vector<std::string> peers;
  size_t nodes = 1;
  double report_every = 60;
  bool allow_alone = false;

  std::vector<std::string> op_peers;
  std::string key, value, subkey;
  bool has_subkey = false;
  double ttl = 300;
  bool latest = false;
  bool json = false;
  std::string ping_address;
  std::vector<std::string> targets;
  std::string grid;
  hm::cli::DhtLimitFlags limits;  // of the nodes this process runs
};

std::vector<Endpoint> parse_peers(const std::vector<std::string>& texts) {
  return hm::discovery::parse_peers(texts, "--peers");
}

// Lets `fds` file descriptors open (one UDP socket per node).
void raise_fd_limit(size_t fds) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= fds) return;
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, fds);
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < fds) {
    throw hm::UsageError(fmt::format(
        "--nodes needs about {} open files but the limit is {} (raise it with ulimit -n)", fds,
        limit.rlim_cur));
  }
}

// A bare uv loop that runs until done() or `seconds` pass.
class Loop {
 public:
  Loop() { uv_loop_init(&loop_); }
  ~Loop() {
    for (int i = 0; i < 100 && uv_loop_close(&loop_) == UV_EBUSY; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  }
  uv_loop_t* get() { return &loop_; }
  void stop() { uv_stop(&loop_); }
  // Returns false on timeout.
  bool run_for(double seconds) {
    bool timed_out = false;
    hm::io::Timer deadline(&loop_, [&] {
      timed_out = true;
      uv_stop(&loop_);
    });
    deadline.start(static_cast<uint64_t>(seconds * 1000));
    uv_run(&loop_, UV_RUN_DEFAULT);
    return !timed_out;
  }

 private:
  uv_loop_t loop_{};
};

// A client-mode node (never added to others' routing tables) that joined
// through `peers`, bound next to them (loopback peers: loopback).
std::unique_ptr<DhtNode> join_as_client(Loop& loop, const std::vector<Endpoint>& peers) {
  if (peers.empty()) throw hm::UsageError("--peers: give at least one node's address");
  DhtConfig config = hm::discovery::client_node_config(peers);
  auto node = std::make_unique<DhtNode>(loop.get(), config);
  std::optional<std::string> error;
  node->bootstrap(peers, [&](const std::string& e) {
    error = e;
    loop.stop();
  });
  if (!loop.run_for(kClientSeconds) || !error) hm::fail("joining the DHT timed out");
  if (!error->empty()) hm::fail("{}", *error);
  return node;
}

int run_store(const Flags& flags) {
  auto peers = parse_peers(flags.op_peers);
  if (!(flags.ttl > 0) || !std::isfinite(flags.ttl)) {
    throw hm::UsageError(fmt::format("--ttl must be a positive number of seconds, not {}", flags.ttl));
  }
  Loop loop;
  auto node = join_as_client(loop, peers);
  hm::dht::StoreEntry entry{flags.key, std::nullopt, flags.value, node->dht_time() + flags.ttl};
  if (flags.has_subkey) entry.subkey = flags.subkey;
  std::optional<std::vector<bool>> ok;
  node->store({entry}, [&](std::vector<bool> accepted) {
    ok = std::move(accepted);
    loop.stop();
  });
  if (!loop.run_for(kClientSeconds) || !ok) hm::fail("storing '{}' timed out", flags.key);
  if (!(*ok)[0]) {
    hm::fail("no replica accepted '{}' (each holds a value that expires later, or none answered)",
             flags.key);
  }
  spdlog::info("stored '{}' for {} s", flags.key, flags.ttl);
  return 0;
}

std::string text(const std::string& bytes) {
  // JSON strings must be UTF-8: invalid bytes become U+FFFD.
  return nlohmann::json(bytes).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int run_get(const Flags& flags) {
  auto peers = parse_peers(flags.op_peers);
  Loop loop;
  auto node = join_as_client(loop, peers);
  std::optional<std::vector<std::optional<hm::dht::StoredValue>>> got;
  node->get({flags.key}, flags.latest, [&](auto values) {
    got = std::move(values);
    loop.stop();
  });
  if (!loop.run_for(kClientSeconds) || !got) hm::fail("getting '{}' timed out", flags.key);
  const auto& found = (*got)[0];
  if (!found) hm::fail("'{}' not found", flags.key);
  if (flags.json) {
    std::string out = "{\"key\":" + text(flags.key);
    if (found->is_dictionary) {
      out += ",\"expiration\":" + nlohmann::json(found->expiration).dump() + ",\"subkeys\":{";
      bool first = true;
      for (const auto& [subkey, entry] : found->subkeys) {
        out += (first ? "" : ",") + text(subkey) + ":{\"value\":" + text(entry.value) +
               ",\"expiration\":" + nlohmann::json(entry.expiration).dump() + "}";
        first = false;
      }
      out += "}}";
    } else {
      out += ",\"value\":" + text(found->value) +
             ",\"expiration\":" + nlohmann::json(found->expiration).dump() + "}";
    }
    std::printf("%s\n", out.c_str());
  } else if (found->is_dictionary) {
    for (const auto& [subkey, entry] : found->subkeys) {
      std::printf("%s\t%s\n", subkey.c_str(), entry.value.c_str());
    }
  } else {
    std::fwrite(found->value.data(), 1, found->value.size(), stdout);
    std::fputc('\n', stdout);
  }
  return 0;
}

// First dimension of --grid "4x4" (0 when not given).
int64_t first_dimension(const std::string& grid) {
  if (grid.empty()) return 0;
  int64_t value = 0;
  auto end = grid.find('x');
  auto [ptr, ec] = std::from_chars(grid.data(), grid.data() + std::min(end, grid.size()), value);
  if (ec != std::errc() || value <= 0 || ptr != grid.data() + std::min(end, grid.size())) {
    throw hm::UsageError(fmt::format("--grid: bad grid '{}' (expected sizes like 4x4)", grid));
  }
  return value;
}

int run_experts(const Flags& flags) {
  auto peers = parse_peers(flags.op_peers);
  auto dim0 = first_dimension(flags.grid);
  Loop loop;
  auto node = join_as_client(loop, peers);
  std::optional<std::vector<hm::discovery::ExpertLocation>> experts;
  hm::discovery::list_experts(*node, flags.targets, dim0, [&](auto list) {
    experts = std::move(list);
    loop.stop();
  });
  if (!loop.run_for(kClientSeconds) || !experts) hm::fail("listing experts timed out");
  if (flags.json) {
    auto list = nlohmann::json::array();
    for (const auto& e : *experts) list.push_back({{"uid", e.uid}, {"address", e.server.to_string()}});
    std::printf("%s\n", list.dump().c_str());
  } else {
    for (const auto& e : *experts) std::printf("%s %s\n", e.uid.c_str(), e.server.to_string().c_str());
  }
  if (experts->empty()) hm::fail("no live experts under {}", fmt::join(flags.targets, " "));
  return 0;
}

int run_ping(const Flags& flags) {
  Endpoint peer = Endpoint::parse(flags.ping_address, "ADDR");
  Loop loop;
  DhtConfig config;
  uint8_t loop4[4] = {127, 0, 0, 1}, any4[4] = {0, 0, 0, 0};
  if (peer.family() == AF_INET) {
    config.listen = Endpoint::from_ip_bytes(peer.is_loopback() ? loop4 : any4, 0);
  } else {
    uint8_t six[16] = {};
    if (peer.is_loopback()) six[15] = 1;
    config.listen = Endpoint::from_ip_bytes(six, 0);
  }
  config.protocol.client_mode = true;
  DhtNode node(loop.get(), config);
  std::optional<hm::dht::PingReply> reply;
  bool answered = false;
  node.ping(peer, [&](const hm::dht::PingReply* r) {
    answered = true;
    if (r) reply = *r;
    loop.stop();
  });
  loop.run_for(kClientSeconds);
  if (!answered || !reply) {
    hm::fail("no answer from {} (is an hm-dht node listening there?)", peer.to_string());
  }
  std::printf("id=%s rtt_ms=%.3f\n", reply->sender.id.hex().c_str(), reply->rtt_seconds * 1000);
  return 0;
}

int run_nodes(const Flags& flags) {
  if (flags.nodes < 1 || flags.nodes > 16384) {
    throw hm::UsageError(fmt::format("--nodes must be from 1 to 16384, not {}", flags.nodes));
  }
  if (flags.report_every < 0) {
    throw hm::UsageError(fmt::format("--report-every must be >= 0, not {}", flags.report_every));
  }
  raise_fd_limit(flags.nodes + 64);
  DhtConfig config;
  config.listen = Endpoint::parse(flags.listen, "--listen");
  flags.limits.apply(config.protocol, config.storage);
  auto peers = parse_peers(flags.peers);
  Loop loop;
  hm::dht::NodeGroup nodes(loop.get(), config, flags.nodes);
  std::string error;
  bool joined = false;
  nodes.bootstrap(peers, flags.allow_alone, [&](const std::string& e) {
    error = e;
    joined = true;
    if (!e.empty()) {
      loop.stop();
      return;
    }
    for (size_t i = 0; i < nodes.size(); ++i) {
      std::printf("%s\n", hm::dht::reachable_address(nodes.node(i).address()).to_string().c_str());
    }
    std::fflush(stdout);
    spdlog::info("{} node(s) up; {}", nodes.size(), nodes.summary());
  });
  hm::io::Timer report(loop.get(), [&] { spdlog::info("{}", nodes.summary()); });
  if (flags.report_every > 0) {
    auto ms = static_cast<uint64_t>(flags.report_every * 1000);
    report.start(ms, ms);
  }
  int signal_seen = 0;
  auto on_signal = [&](int signum) {
    signal_seen = signum;
    loop.stop();
  };
  hm::io::SignalWatcher sigint(loop.get(), on_signal), sigterm(loop.get(), on_signal);
  sigint.start(SIGINT);
  sigterm.start(SIGTERM);
  uv_run(loop.get(), UV_RUN_DEFAULT);
  if (signal_seen != 0) {
    spdlog::info("signal {}: stopping {} node(s)", signal_seen, nodes.size());
    return 0;
  }
  if (joined && !error.empty()) hm::fail("{}", error);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  hm::tune_allocator();
  CLI::App app{
      "Run Kademlia DHT nodes (one, or a whole swarm with --nodes), or store, get and ping "
      "from a shell. A node prints its address (HOST:PORT) as the first line on stdout; with "
      "--nodes N, one line per node.",
      "hm-dht"};
  hm::cli::CommonFlags common;
  hm::cli::add_common_flags(app, common);
  Flags flags;
  app.add_option("--listen", flags.listen, "UDP address of the (first) node, HOST:PORT")
      ->capture_default_str();
  app.add_option("--peers", flags.peers,
                 "Join the swarm through these nodes (HOST:PORT ...); without, start a new one")
      ->delimiter(',');
  app.add_option("--nodes", flags.nodes, "Run this many nodes in this process, one swarm")
      ->capture_default_str();
  app.add_option("--report-every", flags.report_every,
                 "Log routing-table size and stored keys every this many seconds (0: never)")
      ->capture_default_str();
  app.add_flag("--allow-alone", flags.allow_alone,
               "When no --peers node answers, start a swarm of our own instead of failing");
  hm::cli::add_dht_limit_flags(app, flags.limits);
  app.require_subcommand(0, 1);

  auto* store = app.add_subcommand("store", "Store KEY = VALUE in the DHT (5 replicas)");
  store->add_option("--peers", flags.op_peers, "A node of the swarm (HOST:PORT); repeatable")
      ->delimiter(',')
      ->allow_extra_args(false);
  store->add_option("key", flags.key, "The key")->required();
  store->add_option("value", flags.value, "The value")->required();
  auto* subkey = store->add_option("--subkey", flags.subkey,
                                   "Store VALUE under this subkey of a dictionary value");
  store->add_option("--ttl", flags.ttl, "Seconds until the value expires")->capture_default_str();

  auto* get = app.add_subcommand("get", "Print the value of KEY; exit 1 when not found");
  get->add_option("--peers", flags.op_peers, "A node of the swarm (HOST:PORT); repeatable")
      ->delimiter(',')
      ->allow_extra_args(false);
  get->add_option("key", flags.key, "The key")->required();
  get->add_flag("--latest", flags.latest, "Ask every replica and print the newest value");
  get->add_flag("--json", flags.json,
                "Print JSON: value and expiration, or subkeys for a dictionary");

  auto* ping = app.add_subcommand("ping", "Print a node's id and the round-trip time");
  ping->add_option("address", flags.ping_address, "The node (HOST:PORT)")->required();

  auto* experts = app.add_subcommand(
      "experts", "Print 'uid address' for every live expert named by a uid or under a prefix");
  experts->add_option("--peers", flags.op_peers, "A node of the swarm (HOST:PORT); repeatable")
      ->delimiter(',')
      ->allow_extra_args(false);
  experts->add_option("targets", flags.targets, "Expert uids (ffn.1.2) or prefixes (ffn.1., ffn.)")
      ->required();
  experts->add_option("--grid", flags.grid,
                      "Grid size, e.g. 4x4: needed to probe a bare prefix such as ffn.");
  experts->add_flag("--json", flags.json, "Print a JSON list of {uid, address}");

  return hm::cli::run(app, argc, argv, common, [&] {
    flags.has_subkey = subkey->count() > 0;
    if (flags.op_peers.empty()) flags.op_peers = flags.peers;
    if (*store) return run_store(flags);
    if (*get) return run_get(flags);
    if (*ping) return run_ping(flags);
    if (*experts) return run_experts(flags);
    return run_nodes(flags);
  });
}
