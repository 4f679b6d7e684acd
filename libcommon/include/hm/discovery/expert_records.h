// How experts are written into the DHT (hivemind's layout) and read back.
//
// Declaring expert `ffn.1.2.3` at server A stores:
//   key "ffn.1.2.3"             regular value  "A"            (host:port)
//   key "ffn.1.2." subkey "3"   value          "ffn.1.2.3 A"
//   key "ffn.1."   subkey "2"   value          "ffn.1.2.3 A"
// A one-dimensional uid `ffn.5` stores "ffn.5" and "ffn.5." subkey "-1".
// There is no bare "ffn." key: searches probe the first dimension key by key.
// Subkey "none" with an empty value is a negative-cache entry ("nothing
// here"), never an expert.
// Pure functions; any thread.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hm/base/address.h"
#include "hm/dht/node.h"

namespace hm::discovery {

struct ExpertLocation {
  std::string uid;
  HostPort server;
  bool operator==(const ExpertLocation&) const = default;
};

// Every DHT entry that declares `uids` at `server`, expiring at `expiration`
// (absolute DHT time); a prefix entry shared by several uids appears once.
// Throws hm::Error for an invalid uid.
std::vector<dht::StoreEntry> declaration_entries(std::span<const std::string> uids,
                                                 const HostPort& server, double expiration);

// "uid host:port" -> location; nullopt for a negative entry or garbage.
std::optional<ExpertLocation> parse_successor(std::string_view value);

// "host:port" -> address; nullopt for garbage.
std::optional<HostPort> parse_server(std::string_view value);

// The experts listed under a prefix key's dictionary value, by subkey
// coordinate (the subkey as a number); garbage and negative entries skipped.
std::vector<std::pair<int64_t, ExpertLocation>> successors(const dht::StoredValue& value);

// The negative-cache entry for a prefix that has no experts.
dht::StoreEntry negative_entry(const std::string& prefix, double expiration);

}  // namespace hm::discovery
