// Storage: what a DHT node holds for other nodes (and, as a second instance,
// its cache), with hivemind's rules.
//
// - Every record has an absolute expiration time (seconds since the Unix
//   epoch, the "DHT time"); an expired record is gone. A record expiring
//   exactly now still counts.
// - Store-if-newer: a record replaces another under the same key only when
//   its expiration is strictly greater.
// - A dictionary record maps subkeys to values, each with its own
//   expiration and its own store-if-newer; the record's expiration is the
//   latest of its subkeys'. A subkey stored over a regular value with a
//   smaller expiration turns the key into a dictionary; over a regular value
//   with a greater or equal one it is refused.
// - Bounds: at most max_keys records and max_total_bytes of payload (the
//   records expiring first are evicted); a record (a whole dictionary) is
//   at most max_value_bytes.
//
// Time is always passed in (`now`), so tests need no clock.
// Threads: not thread-safe; owned by one node on its loop thread.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "hm/dht/node_id.h"

namespace hm::dht {

struct SubkeyValue {
  std::string value;
  double expiration = 0;
  bool operator==(const SubkeyValue&) const = default;
};

using Dictionary = std::map<std::string, SubkeyValue, std::less<>>;

// A value as stored and as returned by a lookup.
struct StoredValue {
  double expiration = 0;  // a dictionary's: the latest of its subkeys'
  bool is_dictionary = false;
  std::string value;      // a regular value's bytes
  Dictionary subkeys;     // a dictionary's entries

  // Payload bytes counted against the bounds.
  size_t bytes() const;
  bool operator==(const StoredValue&) const = default;
};

// Folds `from` into `into` the way a lookup combines replicas: two
// dictionaries merge subkey by subkey (store-if-newer, skipping subkeys
// expired at `now`); otherwise the later expiration wins. Returns true when
// `into` changed.
bool merge_value(StoredValue& into, const StoredValue& from, double now);

struct StorageLimits {
  size_t max_keys = 65536;
  size_t max_value_bytes = 16 * 1024;
  size_t max_total_bytes = 64 << 20;
};

class Storage {
 public:
  using Limits = StorageLimits;

  explicit Storage(Limits limits = {});

  // Stores a regular value. False when refused: expired, too large, not
  // newer than the record there, or evicted at once by the bounds.
  bool store(const NodeId& key, std::string_view value, double expiration, double now);
  // Stores one subkey of a dictionary (rules above).
  bool store_subkey(const NodeId& key, std::string_view subkey, std::string_view value,
                    double expiration, double now);
  // Stores a whole value: a regular one, or a dictionary subkey by subkey
  // (true only when every subkey was taken).
  bool store_value(const NodeId& key, const StoredValue& value, double now);

  // The live record, with expired subkeys pruned; nullptr when none. The
  // pointer is valid until the next call that changes this storage.
  const StoredValue* get(const NodeId& key, double now);
  bool remove(const NodeId& key);
  void remove_expired(double now);

  size_t size() const { return entries_.size(); }
  size_t total_bytes() const { return total_bytes_; }
  const Limits& limits() const { return limits_; }

  // Calls fn(const NodeId&, const StoredValue&) for every record (expired
  // ones included until remove_expired runs). fn must not change storage.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [key, entry] : entries_) fn(key, entry.value);
  }

 private:
  struct Entry {
    StoredValue value;
    size_t bytes = 0;
  };
  using Map = std::unordered_map<NodeId, Entry, NodeIdHash>;

  Entry* live(const NodeId& key, double now);
  Map::iterator insert(const NodeId& key, StoredValue value);
  void set_expiration(const NodeId& key, Entry& entry, double expiration);
  void resize(Entry& entry, size_t bytes);
  void erase(Map::iterator it);
  // Evicts the records expiring first until within bounds; false when `key`
  // itself was evicted.
  bool enforce_bounds(const NodeId& key);

  Limits limits_;
  Map entries_;
  std::set<std::pair<double, NodeId>> by_expiration_;
  size_t total_bytes_ = 0;
};

}  // namespace hm::dht
