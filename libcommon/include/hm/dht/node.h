// DhtNode: one Kademlia DHT node with hivemind's semantics, on a libuv loop.
//
// What it does (see the DHT section of DESIGN.md):
// - serves ping/store/find over UDP (DhtProtocol) and keeps a routing table
//   of the peers it hears from (k-buckets, ping-before-evict, peers that fail
//   removed, stale buckets refreshed);
// - get: checks its own storage and cache, then runs an iterative lookup
//   (alpha requests in flight per key, up to chunk_size keys per request)
//   that stops at the first unexpired value unless `latest` asks for a full
//   traversal keeping the newest value (dictionaries merge subkey by subkey
//   across replicas); concurrent gets of one key share one lookup; peers
//   that do not answer are blacklisted for 5 s x 2^n; a value found is cached
//   locally and on the nearest visited node that lacked it, and a cached
//   value that is read is refreshed before it expires;
// - store: looks up the num_replicas (5) nearest nodes of each key (itself
//   included unless in client mode) and stores to them, replacing peers that
//   do not answer with the next nearest; a node that meets a new peer hands
//   it the keys that peer should now hold;
// - bootstrap: pings the initial peers, then looks up its own id.
//
// Async style: every operation returns a kj::Promise that resolves on the
// loop thread (never inside the call): "not found" and "no answer" are
// std::nullopt, and a failure (no initial peer answered) is a rejection.
// Dropping a promise does not cancel the operation: it runs to its end and
// its result is discarded (a store is then fire-and-forget).
// Threads: construct, use and destroy on the io::EventLoop's thread.
// Lifetime: destroying the node closes its socket and timers; the promises
// of operations still running are rejected with "the DHT node stopped".
// Cost: about 18 KiB of memory per node in a swarm of 1024 (routing table
// of ~48 peers, protocol state, uv handles), plus what it stores and caches.
#pragma once

#include <kj/async.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hm/dht/node_id.h"
#include "hm/dht/protocol.h"
#include "hm/dht/routing_table.h"
#include "hm/dht/storage.h"
#include "hm/io/event_loop.h"
#include "hm/io/udp_socket.h"

namespace hm::dht {

struct DhtConfig {
  // Where to listen (UDP). Port 0 picks a free port.
  io::Endpoint listen = io::Endpoint::from_ip_bytes(std::vector<uint8_t>{0, 0, 0, 0}, 0);
  std::optional<NodeId> node_id;  // random when not set

  size_t bucket_size = 20;   // k
  int depth_modulo = 5;      // b
  size_t num_replicas = 5;
  size_t alpha = 3;          // lookup requests in flight per key
  size_t parallel_rpc = 32;  // lookup requests in flight per lookup, in all
  size_t chunk_size = 16;    // keys per find request

  double blacklist_time = 5.0;  // seconds, first ban
  double backoff_rate = 2.0;    // each further failure multiplies the ban

  bool cache_locally = true;    // keep values found by get in the cache
  size_t cache_nearest = 1;     // also cache them on this many nearest visited nodes
  bool cache_on_store = true;   // keep values stored through us in the cache
  double cache_refresh_before_expiry = 5.0;  // seconds; 0 disables refreshing

  double refresh_interval = 600.0;  // seconds before a silent bucket is refreshed; 0: never
  double max_clock_skew = 3.0;      // seconds: peers further off are flagged

  StorageLimits storage;                    // what the node holds for others
  StorageLimits cache{.max_keys = 16384};   // values it found or stored
  ProtocolConfig protocol;                  // timeouts, limits, client mode, clock
};

// A key to store: a regular value, or one subkey of a dictionary value.
struct StoreEntry {
  std::string key;
  std::optional<std::string> subkey;
  std::string value;
  double expiration = 0;  // absolute DHT time (system_dht_time() + ttl)
};

struct DhtStats {
  size_t routing_peers = 0;
  size_t replacements = 0;
  size_t buckets = 0;
  size_t stored_keys = 0;
  size_t cached_keys = 0;
  size_t blacklisted = 0;
  size_t skewed_peers = 0;    // peers whose clock differs by more than max_clock_skew
  size_t lookups = 0;         // lookups running
  size_t refresh_queue = 0;   // cached keys scheduled for refresh
  ProtocolCounters protocol;
};

class DhtNode {
 public:
  // One result per key, nullopt when not found.
  using Values = std::vector<std::optional<StoredValue>>;

  // Binds and starts serving. Throws hm::Error when it cannot bind.
  DhtNode(io::EventLoop& loop, DhtConfig config);
  ~DhtNode();
  DhtNode(const DhtNode&) = delete;
  DhtNode& operator=(const DhtNode&) = delete;

  // Pings `peers`; when at least one answers, looks up our own id (not in
  // client mode) and resolves. With no peers, resolves at once (the first
  // node). Rejects with "none of the N initial peers answered (...)".
  kj::Promise<void> bootstrap(std::vector<io::Endpoint> peers);

  // One bool per entry: true when at least one replica accepted it.
  kj::Promise<std::vector<bool>> store(std::vector<StoreEntry> entries);
  // With `latest`, a full traversal that returns the newest value;
  // otherwise the first unexpired one.
  kj::Promise<Values> get(std::vector<std::string> keys, bool latest);
  // The same by key id: a value counts once it expires at or after
  // `sufficient_expiration` (system_dht_time() for "unexpired", infinity
  // for "latest").
  kj::Promise<Values> get_by_id(std::vector<NodeId> ids, double sufficient_expiration);

  // The peer's reply, or nullopt when it did not answer in time.
  kj::Promise<std::optional<PingReply>> ping(const io::Endpoint& peer);
  // The `k` nearest live nodes to `target` found by a lookup (not us).
  kj::Promise<std::vector<PeerInfo>> find_nearest(const NodeId& target, size_t k);

  const NodeId& id() const;
  // The bound address (its host is 0.0.0.0 when listening on any).
  io::Endpoint address() const;
  double dht_time() const;
  DhtStats stats() const;
  bool is_skewed(const NodeId& peer) const;

  // For tests and tools: the node's state, read-only.
  const RoutingTable& routing_table() const;
  const Storage& storage() const;
  const Storage& cache() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace hm::dht
