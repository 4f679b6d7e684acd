#include "hm/dht/routing_table.h"

#include <algorithm>

#include "hm/base/error.h"

namespace hm::dht {

RoutingTable::RoutingTable(const NodeId& self, size_t bucket_size, int depth_modulo)
    : self_(self), k_(bucket_size), depth_modulo_(depth_modulo) {
  require(bucket_size >= 1, "bucket size must be at least 1, not {}", bucket_size);
  require(depth_modulo >= 1, "depth modulo must be at least 1, not {}", depth_modulo);
  buckets_.push_back(Bucket{});
}

size_t RoutingTable::bucket_index(const NodeId& id) const {
  // The last bucket whose lowest id is <= id.
  auto it = std::upper_bound(buckets_.begin(), buckets_.end(), id,
                             [](const NodeId& value, const Bucket& b) { return value < b.prefix; });
  return static_cast<size_t>(it - buckets_.begin()) - 1;
}

bool RoutingTable::holds_self(const Bucket& bucket) const {
  return bucket.prefix.common_prefix_length(self_) >= bucket.depth;
}

void RoutingTable::split(size_t index) {
  Bucket& old = buckets_[index];
  Bucket left, right;
  left.depth = right.depth = old.depth + 1;
  left.prefix = right.prefix = old.prefix;
  right.prefix.set_bit(old.depth, true);
  left.last_updated = right.last_updated = old.last_updated;
  for (auto& entry : old.peers) {
    (entry.peer.id.bit(old.depth) ? right : left).peers.push_back(entry);
  }
  for (auto& peer : old.replacements) {
    (peer.id.bit(old.depth) ? right : left).replacements.push_back(peer);
  }
  buckets_[index] = std::move(left);
  buckets_.insert(buckets_.begin() + static_cast<std::ptrdiff_t>(index) + 1, std::move(right));
}

RoutingTable::AddOutcome RoutingTable::add_or_update(const PeerInfo& peer, double now) {
  if (peer.id == self_) return {Added::kSelf, std::nullopt};
  for (;;) {
    size_t index = bucket_index(peer.id);
    Bucket& bucket = buckets_[index];
    bucket.last_updated = now;
    auto known = std::find_if(bucket.peers.begin(), bucket.peers.end(),
                              [&](const Entry& e) { return e.peer.id == peer.id; });
    if (known != bucket.peers.end()) {
      bucket.peers.erase(known);
      bucket.peers.push_back(Entry{peer, false});
      return {Added::kUpdated, std::nullopt};
    }
    auto replacement = std::find_if(bucket.replacements.begin(), bucket.replacements.end(),
                                    [&](const PeerInfo& p) { return p.id == peer.id; });
    if (bucket.peers.size() < k_) {
      if (replacement != bucket.replacements.end()) bucket.replacements.erase(replacement);
      bucket.peers.push_back(Entry{peer, false});
      ++size_;
      return {Added::kAdded, std::nullopt};
    }
    if (bucket.depth < NodeId::kBits && (holds_self(bucket) || bucket.depth % depth_modulo_ != 0)) {
      split(index);
      continue;
    }
    if (replacement != bucket.replacements.end()) bucket.replacements.erase(replacement);
    bucket.replacements.push_back(peer);
    if (bucket.replacements.size() > k_) bucket.replacements.erase(bucket.replacements.begin());
    for (auto& entry : bucket.peers) {
      if (!entry.ping_requested) {
        entry.ping_requested = true;
        return {Added::kReplacement, entry.peer};
      }
    }
    return {Added::kReplacement, std::nullopt};
  }
}

bool RoutingTable::remove(const NodeId& id) {
  Bucket& bucket = buckets_[bucket_index(id)];
  auto known = std::find_if(bucket.peers.begin(), bucket.peers.end(),
                            [&](const Entry& e) { return e.peer.id == id; });
  if (known != bucket.peers.end()) {
    bucket.peers.erase(known);
    --size_;
    if (!bucket.replacements.empty()) {
      bucket.peers.push_back(Entry{bucket.replacements.back(), false});
      bucket.replacements.pop_back();
      ++size_;
    }
    return true;
  }
  auto replacement = std::find_if(bucket.replacements.begin(), bucket.replacements.end(),
                                  [&](const PeerInfo& p) { return p.id == id; });
  if (replacement == bucket.replacements.end()) return false;
  bucket.replacements.erase(replacement);
  return true;
}

std::optional<io::Endpoint> RoutingTable::find(const NodeId& id) const {
  const Bucket& bucket = buckets_[bucket_index(id)];
  for (const auto& entry : bucket.peers) {
    if (entry.peer.id == id) return entry.peer.address;
  }
  return std::nullopt;
}

void RoutingTable::nearest(const NodeId& target, size_t k, std::vector<PeerInfo>& out,
                           const NodeId* exclude) const {
  out.clear();
  if (k == 0) return;
  // Order buckets by the distance from the target to their prefix, taking
  // only the bucket's `depth` bits: every id of an earlier bucket is closer
  // than every id of a later one.
  struct Ranked {
    NodeId key;
    size_t index;
  };
  static thread_local std::vector<Ranked> ranked;
  ranked.clear();
  for (size_t i = 0; i < buckets_.size(); ++i) {
    const Bucket& b = buckets_[i];
    if (b.peers.empty()) continue;
    NodeId key = b.prefix.distance(target);
    for (int bit = b.depth; bit < NodeId::kBits && bit % 8 != 0; ++bit) key.set_bit(bit, false);
    for (int byte = (b.depth + 7) / 8; byte < static_cast<int>(NodeId::kBytes); ++byte) {
      key.mutable_bytes()[byte] = 0;
    }
    ranked.push_back({key, i});
  }
  std::sort(ranked.begin(), ranked.end(),
            [](const Ranked& a, const Ranked& b) { return a.key < b.key; });
  // Gather whole buckets, nearest first, until k peers; then sort them by
  // their distance, computed once per peer.
  struct Candidate {
    uint64_t d0, d1, d2;
    const PeerInfo* peer;
    bool operator<(const Candidate& o) const {
      return d0 != o.d0 ? d0 < o.d0 : d1 != o.d1 ? d1 < o.d1 : d2 < o.d2;
    }
  };
  static thread_local std::vector<Candidate> candidates;
  candidates.clear();
  const uint64_t t0 = target.word(0), t1 = target.word(1), t2 = target.word(2);
  for (const Ranked& r : ranked) {
    if (candidates.size() >= k) break;
    for (const auto& entry : buckets_[r.index].peers) {
      const NodeId& id = entry.peer.id;
      if (exclude != nullptr && id == *exclude) continue;
      candidates.push_back({id.word(0) ^ t0, id.word(1) ^ t1, id.word(2) ^ t2, &entry.peer});
    }
  }
  if (candidates.size() > k) {
    std::nth_element(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(k),
                     candidates.end());
    candidates.resize(k);
  }
  std::sort(candidates.begin(), candidates.end());
  out.reserve(candidates.size());
  for (const Candidate& c : candidates) out.push_back(*c.peer);
}

std::vector<NodeId> RoutingTable::take_stale(double before, double now, std::mt19937_64& rng) {
  std::vector<NodeId> ids;
  for (auto& bucket : buckets_) {
    if (bucket.last_updated >= before) continue;
    bucket.last_updated = now;
    NodeId id = NodeId::random(rng);
    for (int bit = 0; bit < bucket.depth; ++bit) id.set_bit(bit, bucket.prefix.bit(bit));
    ids.push_back(id);
  }
  return ids;
}

size_t RoutingTable::replacement_count() const {
  size_t count = 0;
  for (const auto& bucket : buckets_) count += bucket.replacements.size();
  return count;
}

}  // namespace hm::dht
