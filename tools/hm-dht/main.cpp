// hm-dht: run DHT nodes, or store, get and ping from a shell.
//   hm-dht --listen 127.0.0.1:7000 --nodes 64          # a swarm; prints the addresses
//   hm-dht --peers 127.0.0.1:7000                      # one more node joins it
//   hm-dht store --peers 127.0.0.1:7000 KEY VALUE [--subkey S] [--ttl 300]
//   hm-dht get --peers 127.0.0.1:7000 KEY [--latest] [--json]
//   hm-dht ping 127.0.0.1:7000
// The commands: hm/cli/dht_command.h.
#include "hm/base/allocator.h"
#include "hm/cli/app.h"
#include "hm/cli/dht_command.h"
#include "hm/cli/limit_flags.h"
#include "hm/cli/metrics_flag.h"

int main(int argc, char** argv) {
  hm::tune_allocator();
  CLI::App app{
      "Run Kademlia DHT nodes (one, or a whole swarm with --nodes), or store, get and ping "
      "from a shell. A node prints its address (HOST:PORT) as the first line on stdout; with "
      "--nodes N, one line per node.",
      "hm-dht"};
  hm::cli::CommonFlags common;
  hm::cli::add_common_flags(app, common);
  hm::cli::DhtFlags flags;
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
  hm::cli::add_metrics_flag(app, flags.metrics);
  app.require_subcommand(0, 1);

  auto* store = app.add_subcommand("store", "Store KEY = VALUE in the DHT (5 replicas)");
  store->add_option("--peers", flags.op_peers, "A node of the swarm (HOST:PORT); repeatable")
      ->delimiter(',')
      ->allow_extra_args(false);
  store->add_option("key", flags.key, "The key")->required();
  store->add_option("value", flags.value, "The value")->required();
  std::string subkey_text;
  auto* subkey = store->add_option("--subkey", subkey_text,
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
    if (subkey->count() > 0) flags.subkey = subkey_text;
    if (flags.op_peers.empty()) flags.op_peers = flags.peers;
    if (*store) return hm::cli::run_dht_store(flags);
    if (*get) return hm::cli::run_dht_get(flags);
    if (*ping) return hm::cli::run_dht_ping(flags);
    if (*experts) return hm::cli::run_dht_experts(flags);
    return hm::cli::run_dht_nodes(flags);
  });
}
