// RoutingTable: the peers a DHT node knows, in Kademlia k-buckets.
//
// The id space is cut into buckets, each the ids that share a prefix of
// `depth` bits. A bucket holds at most k peers, least recently seen first.
// When a full bucket gets a new peer it splits in two if it holds our own id
// or if its depth is not a multiple of the depth modulo b (Kademlia paper,
// section 4.2); otherwise the newcomer waits in the bucket's replacement
// cache (at most k, most recent last) and add_or_update returns the bucket's
// least recently seen peer for the caller to ping: a peer that does not
// answer is removed, and the most recent replacement takes its place.
//
// nearest() is exact: buckets are visited in order of XOR distance (for two
// disjoint prefix ranges, every id of one is closer to the target than every
// id of the other), so it matches a brute-force sort of all peers.
//
// Threads: not thread-safe; owned by one node on its loop thread.
// Cost: about (k + 56 bytes) per peer; nearest() is O(B log B + k log k)
// for B buckets (B ~ 50-60 with 10k peers seen).
#pragma once

#include <cstddef>
#include <optional>
#include <random>
#include <vector>

#include "hm/dht/node_id.h"
#include "hm/io/udp_socket.h"

namespace hm::dht {

// A peer as the routing table and the wire know it.
struct PeerInfo {
  NodeId id;
  io::Endpoint address;
};

class RoutingTable {
 public:
  RoutingTable(const NodeId& self, size_t bucket_size = 20, int depth_modulo = 5);

  enum class Added {
    kSelf,         // our own id: ignored
    kUpdated,      // already known: moved to the most recently seen end
    kAdded,        // new in its bucket
    kReplacement,  // bucket full: kept in the replacement cache
  };
  struct AddOutcome {
    Added added;
    // With kReplacement: the bucket's least recently seen peer not already
    // being pinged. The caller pings it: on an answer, add_or_update(it);
    // on none, remove(it).
    std::optional<PeerInfo> ping;
  };

  // Records that `peer` was seen alive at time `now` (seconds).
  AddOutcome add_or_update(const PeerInfo& peer, double now);
  // Forgets a peer; a bucket member is replaced by the most recent
  // replacement. Returns false when the id was not known.
  bool remove(const NodeId& id);
  // The address of a peer in a bucket (not a replacement).
  std::optional<io::Endpoint> find(const NodeId& id) const;
  bool contains(const NodeId& id) const { return find(id).has_value(); }

  // The `k` peers nearest to `target` by XOR distance, nearest first,
  // skipping `exclude` when given. Appends to `out` after clearing it.
  void nearest(const NodeId& target, size_t k, std::vector<PeerInfo>& out,
               const NodeId* exclude = nullptr) const;
  std::vector<PeerInfo> nearest(const NodeId& target, size_t k,
                                const NodeId* exclude = nullptr) const {
    std::vector<PeerInfo> out;
    nearest(target, k, out, exclude);
    return out;
  }

  // A random id in every bucket not updated since `before`, for a refresh
  // lookup; those buckets count as updated at `now` from here on.
  std::vector<NodeId> take_stale(double before, double now, std::mt19937_64& rng);

  const NodeId& self() const { return self_; }
  size_t size() const { return size_; }  // peers in buckets
  size_t replacement_count() const;
  size_t bucket_count() const { return buckets_.size(); }
  size_t bucket_size() const { return k_; }

  // Calls fn(const PeerInfo&) for every peer in a bucket.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& bucket : buckets_) {
      for (const auto& entry : bucket.peers) fn(entry.peer);
    }
  }

 private:
  struct Entry {
    PeerInfo peer;
    bool ping_requested = false;
  };
  struct Bucket {
    NodeId prefix;  // the bucket's lowest id: bits past `depth` are zero
    int depth = 0;
    std::vector<Entry> peers;         // least recently seen first
    std::vector<PeerInfo> replacements;  // most recent last
    double last_updated = 0;
  };

  size_t bucket_index(const NodeId& id) const;
  bool holds_self(const Bucket& bucket) const;
  void split(size_t index);

  NodeId self_;
  size_t k_;
  int depth_modulo_;
  size_t size_ = 0;
  std::vector<Bucket> buckets_;  // sorted by prefix; they partition the id space
};

}  // namespace hm::dht
