#include "hm/cli/dht_command.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "hm/base/error.h"
#include "hm/base/expert_uid.h"
#include "hm/base/file_limit.h"
#include "hm/base/log.h"
#include "hm/cli/metrics_server.h"
#include "hm/dht/dht_metrics.h"
#include "hm/dht/node.h"
#include "hm/dht/node_group.h"
#include "hm/discovery/dht_join.h"
#include "hm/discovery/expert_listing.h"
#include "hm/io/event_loop.h"
#include "hm/io/uv_timer.h"
#include "hm/rpc/blocking.h"

namespace hm::cli {
namespace {

constexpr double kClientSeconds = 60;  // a whole store or get, joining included
constexpr size_t kMaxNodes = 16384;

std::vector<io::Endpoint> parse_peers(const std::vector<std::string>& texts) {
  return discovery::parse_peers(texts, "--peers");
}

// A client-mode node that joined through `peers`, bound next to them.
std::unique_ptr<dht::DhtNode> join_as_client(io::EventLoop& loop,
                                             const std::vector<io::Endpoint>& peers) {
  if (peers.empty()) throw UsageError("--peers: give at least one node's address");
  auto node = std::make_unique<dht::DhtNode>(loop, discovery::client_node_config(peers));
  rpc::wait_for(loop, discovery::join(*node, peers), kClientSeconds, "joining the DHT");
  return node;
}

}  // namespace

std::string stored_value_json(const std::string& key, const dht::StoredValue& value) {
  nlohmann::ordered_json out = {{"key", key}};
  if (value.is_dictionary) {
    out["expiration"] = value.expiration;
    auto& subkeys = out["subkeys"] = nlohmann::ordered_json::object();
    for (const auto& [subkey, entry] : value.subkeys) {
      subkeys[subkey] = {{"value", entry.value}, {"expiration", entry.expiration}};
    }
  } else {
    out["value"] = value.value;
    out["expiration"] = value.expiration;
  }
  // JSON strings must be UTF-8: invalid bytes become U+FFFD.
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

int run_dht_nodes(const DhtFlags& flags, std::FILE* out) {
  if (flags.nodes < 1 || flags.nodes > kMaxNodes) {
    throw UsageError(fmt::format("--nodes must be from 1 to {}, not {}", kMaxNodes, flags.nodes));
  }
  if (!(flags.report_every >= 0)) {
    throw UsageError(fmt::format("--report-every must be >= 0, not {}", flags.report_every));
  }
  size_t files = flags.nodes + 64;  // one UDP socket per node, and some to spare
  if (size_t limit = raise_file_limit(files); limit < files) {
    throw UsageError(fmt::format(
        "--nodes needs about {} open files but the limit is {} (raise it with ulimit -n)", files,
        limit));
  }
  dht::DhtConfig config;
  config.listen = io::Endpoint::parse(flags.listen, "--listen");
  flags.limits.apply(config.protocol, config.storage);
  auto peers = parse_peers(flags.peers);
  auto metrics = serve_metrics(flags.metrics);

  io::EventLoop loop;
  auto signal = loop.termination_signal();
  dht::NodeGroup nodes(loop, config, flags.nodes);
  dht::DhtMetrics dht_metrics(loop, [&nodes] {
    std::vector<dht::DhtStats> stats;
    for (size_t i = 0; i < nodes.size(); ++i) stats.push_back(nodes.node(i).stats());
    return stats;
  });
  io::Timer report(loop.uv(), [&] { spdlog::info("{}", nodes.summary()); });
  auto serving = nodes.bootstrap(peers, flags.allow_alone).then([&]() -> kj::Promise<int> {
    for (size_t i = 0; i < nodes.size(); ++i) {
      auto address = dht::reachable_address(nodes.node(i).address()).to_string();
      std::fprintf(out, "%s\n", address.c_str());
    }
    std::fflush(out);
    spdlog::info("{} node(s) up; {}", nodes.size(), nodes.summary());
    if (flags.report_every > 0) {
      auto ms = static_cast<uint64_t>(flags.report_every * 1000);
      report.start(ms, ms);
    }
    return kj::NEVER_DONE;  // until a signal
  });
  // A failed join ends the process with its error; a signal ends it with 0.
  int signal_number = rpc::wait_for(loop, serving.exclusiveJoin(kj::mv(signal)), 0, "");
  spdlog::info("signal {}: stopping {} node(s)", signal_number, nodes.size());
  return 0;
}

int run_dht_store(const DhtFlags& flags) {
  auto peers = parse_peers(flags.op_peers);
  if (!(flags.ttl > 0) || !std::isfinite(flags.ttl)) {
    throw UsageError(fmt::format("--ttl must be a positive number of seconds, not {}", flags.ttl));
  }
  io::EventLoop loop;
  auto node = join_as_client(loop, peers);
  dht::StoreEntry entry{flags.key, flags.subkey, flags.value, node->dht_time() + flags.ttl};
  auto accepted = rpc::wait_for(loop, node->store({entry}), kClientSeconds,
                                fmt::format("storing '{}'", flags.key));
  if (!accepted[0]) {
    fail("no replica accepted '{}' (each holds a value that expires later, or none answered)",
         flags.key);
  }
  spdlog::info("stored '{}' for {} s", flags.key, flags.ttl);
  return 0;
}

int run_dht_get(const DhtFlags& flags, std::FILE* out) {
  auto peers = parse_peers(flags.op_peers);
  io::EventLoop loop;
  auto node = join_as_client(loop, peers);
  auto values = rpc::wait_for(loop, node->get({flags.key}, flags.latest), kClientSeconds,
                              fmt::format("getting '{}'", flags.key));
  const auto& found = values[0];
  if (!found) fail("'{}' not found", flags.key);
  if (flags.json) {
    std::fprintf(out, "%s\n", stored_value_json(flags.key, *found).c_str());
  } else if (found->is_dictionary) {
    for (const auto& [subkey, entry] : found->subkeys) {
      std::fprintf(out, "%s\t%s\n", subkey.c_str(), entry.value.c_str());
    }
  } else {
    std::fwrite(found->value.data(), 1, found->value.size(), out);
    std::fputc('\n', out);
  }
  return 0;
}

int run_dht_experts(const DhtFlags& flags, std::FILE* out) {
  auto peers = parse_peers(flags.op_peers);
  int64_t first_dim = flags.grid.empty() ? 0 : parse_grid(flags.grid).front();
  io::EventLoop loop;
  auto node = join_as_client(loop, peers);
  auto experts = rpc::wait_for(loop, discovery::list_experts(*node, flags.targets, first_dim),
                               kClientSeconds, "listing experts");
  if (flags.json) {
    auto list = nlohmann::json::array();
    for (const auto& e : experts) {
      list.push_back({{"uid", e.uid}, {"address", e.server.to_string()}});
    }
    std::fprintf(out, "%s\n", list.dump().c_str());
  } else {
    for (const auto& e : experts) {
      std::fprintf(out, "%s %s\n", e.uid.c_str(), e.server.to_string().c_str());
    }
  }
  if (experts.empty()) fail("no live experts under {}", fmt::join(flags.targets, " "));
  return 0;
}

int run_dht_ping(const DhtFlags& flags, std::FILE* out) {
  io::Endpoint peer = io::Endpoint::parse(flags.ping_address, "ADDR");
  io::EventLoop loop;
  dht::DhtNode node(loop, discovery::client_node_config({peer}));
  auto reply = rpc::wait_for(loop, node.ping(peer), kClientSeconds, "ping");
  if (!reply) fail("no answer from {} (is an hm-dht node listening there?)", peer.to_string());
  std::fprintf(out, "id=%s rtt_ms=%.3f\n", reply->sender.id.hex().c_str(),
               reply->rtt_seconds * 1000);
  return 0;
}

}  // namespace hm::cli
