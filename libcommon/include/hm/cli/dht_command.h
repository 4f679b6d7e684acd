// hm-dht's commands: run DHT nodes (one, or a swarm with --nodes), or
// store, get, list experts and ping from a shell.
//
// Each run_* function runs an hm::io::EventLoop on the calling thread and
// returns the exit code (0) when done; it throws hm::UsageError or
// hm::Error with the one line to print. Results go to `out` (stdout in
// hm-dht), logs to spdlog.
//   run_dht_nodes    the nodes, until SIGINT or SIGTERM; prints one address per node
//   run_dht_store    KEY = VALUE (or one subkey of a dictionary) for --ttl seconds
//   run_dht_get      the value of KEY, as text or --json; Error when not found
//   run_dht_experts  "uid address" per live expert under uids or prefixes
//   run_dht_ping     the node's id and the round-trip time
// The store, get and experts commands join through op_peers as a client-mode
// node (never entered into others' routing tables); each gives up after 60 s.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "hm/cli/limit_values.h"
#include "hm/dht/storage.h"

namespace hm::cli {

// hm-dht's command line, as values (man hm-dht says what each means).
struct DhtFlags {
  // The nodes this process runs.
  std::string listen = "0.0.0.0:0";
  std::vector<std::string> peers;
  size_t nodes = 1;
  double report_every = 60;  // seconds; 0: never
  std::string metrics;       // --metrics HOST:PORT; empty = off
  bool allow_alone = false;
  DhtLimitFlags limits;

  // The client commands.
  std::vector<std::string> op_peers;  // a command's --peers (else the top-level --peers)
  std::string key, value;
  std::optional<std::string> subkey;
  double ttl = 300;
  bool latest = false;
  bool json = false;
  std::string ping_address;
  std::vector<std::string> targets;
  std::string grid;
};

int run_dht_nodes(const DhtFlags& flags, std::FILE* out = stdout);
int run_dht_store(const DhtFlags& flags);
int run_dht_get(const DhtFlags& flags, std::FILE* out = stdout);
int run_dht_experts(const DhtFlags& flags, std::FILE* out = stdout);
int run_dht_ping(const DhtFlags& flags, std::FILE* out = stdout);

// `get --json`'s line: {"key", "value", "expiration"} for a value,
// {"key", "expiration", "subkeys": {subkey: {"value", "expiration"}}} for a
// dictionary. Bytes that are not UTF-8 become U+FFFD.
std::string stored_value_json(const std::string& key, const dht::StoredValue& value);

}  // namespace hm::cli
