#include "traversal.h"

#include <algorithm>

namespace hm::dht {

Traversal::Traversal(const NodeId& self, std::vector<NodeId> targets, Options options,
                     SendFn send, BannedFn banned, ResultFn on_result, DoneFn on_done)
    : self_(self), options_(options), send_(std::move(send)), banned_(std::move(banned)),
      on_result_(std::move(on_result)), on_done_(std::move(on_done)) {
  if (options_.alpha == 0) options_.alpha = 1;
  if (options_.queries_per_call == 0) options_.queries_per_call = 1;
  if (options_.max_in_flight == 0) options_.max_in_flight = 1;
  if (options_.beam_size == 0) options_.beam_size = 1;
  queries_.resize(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) queries_[i].target = targets[i];
  unfinished_ = queries_.size();
}

uint32_t Traversal::intern(const PeerInfo& peer) {
  auto [it, inserted] = peer_index_.try_emplace(peer.id, static_cast<uint32_t>(peers_.size()));
  if (inserted) peers_.push_back(Peer{peer, {}});
  return it->second;
}

bool Traversal::visited(const Query& q, uint32_t peer) const {
  auto it = std::lower_bound(q.seen.begin(), q.seen.end(), peer << 1);
  return it != q.seen.end() && (*it >> 1) == peer && (*it & 1);
}

void Traversal::mark_visited(Query& q, uint32_t peer) {
  auto it = std::lower_bound(q.seen.begin(), q.seen.end(), peer << 1);
  if (it != q.seen.end() && (*it >> 1) == peer) {
    *it |= 1;
  } else {
    q.seen.insert(it, peer << 1 | 1);
  }
}

void Traversal::add_candidate(uint32_t query, uint32_t peer) {
  Query& q = queries_[query];
  auto it = std::lower_bound(q.seen.begin(), q.seen.end(), peer << 1);
  if (it != q.seen.end() && (*it >> 1) == peer) return;  // seen already
  q.seen.insert(it, peer << 1);
  q.heap.push_back(peer);
  const NodeId& target = q.target;
  std::push_heap(q.heap.begin(), q.heap.end(), [&](uint32_t a, uint32_t b) {
    return target.closer(peers_[b].info.id, peers_[a].info.id);
  });
  peers_[peer].waiting.push_back(query);
}

bool Traversal::within_bound(const Query& q, uint32_t peer) const {
  if (q.beam.size() < options_.beam_size) return true;
  return q.target.closer(peers_[peer].info.id, peers_[q.beam.front()].info.id);
}

bool Traversal::has_candidate(uint32_t query) {
  Query& q = queries_[query];
  const NodeId& target = q.target;
  auto nearer = [&](uint32_t a, uint32_t b) {
    return target.closer(peers_[b].info.id, peers_[a].info.id);
  };
  while (!q.heap.empty()) {
    uint32_t top = q.heap.front();
    if (!visited(q, top) && !banned_(peers_[top].info)) return within_bound(q, top);
    std::pop_heap(q.heap.begin(), q.heap.end(), nearer);
    q.heap.pop_back();
  }
  return false;
}

void Traversal::enqueue(uint32_t query) {
  Query& q = queries_[query];
  if (q.finished || q.queued) return;
  q.queued = true;
  ready_.push_back(query);
}

void Traversal::add_candidates(size_t query, std::span<const PeerInfo> peers) {
  for (const auto& peer : peers) {
    if (peer.id == self_) continue;
    add_candidate(static_cast<uint32_t>(query), intern(peer));
  }
}

void Traversal::start() {
  for (uint32_t i = 0; i < queries_.size(); ++i) enqueue(i);
  pump();
}

void Traversal::maybe_finish(uint32_t query) {
  Query& q = queries_[query];
  if (q.finished) return;
  if (q.stop) {
    finish(query);
    return;
  }
  if (q.active != 0 || has_candidate(query)) return;
  bool solo_pending = std::any_of(solo_.begin(), solo_.end(),
                                  [&](const auto& s) { return s.first == query; });
  if (!solo_pending) finish(query);
}

void Traversal::finish(uint32_t query) {
  Query& q = queries_[query];
  q.finished = true;
  --unfinished_;
  std::vector<PeerInfo> nearest;
  nearest.reserve(q.beam.size());
  for (uint32_t peer : q.beam) nearest.push_back(peers_[peer].info);
  const NodeId& target = q.target;
  std::sort(nearest.begin(), nearest.end(),
            [&](const PeerInfo& a, const PeerInfo& b) { return target.closer(a.id, b.id); });
  // Free what a finished query no longer needs (lookups of many keys).
  std::vector<uint32_t>().swap(q.heap);
  std::vector<uint32_t>().swap(q.seen);
  std::vector<uint32_t>().swap(q.beam);
  on_done_(query, std::move(nearest));
}

void Traversal::send_request(uint32_t peer, std::vector<uint32_t> queries) {
  uint32_t id = next_request_++;
  std::vector<NodeId> keys;
  keys.reserve(queries.size());
  for (uint32_t query : queries) {
    keys.push_back(queries_[query].target);
    ++queries_[query].active;
  }
  requests_.emplace(id, Request{peer, std::move(queries)});
  ++in_flight_;
  send_(id, peers_[peer].info, keys);
}

void Traversal::pump() {
  if (pumping_) return;  // a synchronous answer re-entered: the outer loop goes on
  pumping_ = true;
  while (in_flight_ < options_.max_in_flight && !solo_.empty()) {
    auto [query, peer] = solo_.front();
    solo_.pop_front();
    if (!queries_[query].finished) send_request(peer, {query});
  }
  while (in_flight_ < options_.max_in_flight && !ready_.empty()) {
    uint32_t query = ready_.front();
    ready_.pop_front();
    Query& q = queries_[query];
    q.queued = false;
    if (q.finished || q.active >= options_.alpha) continue;  // back in line on its next answer
    if (!has_candidate(query)) {
      maybe_finish(query);
      continue;
    }
    const NodeId& target = q.target;
    uint32_t peer = q.heap.front();
    std::pop_heap(q.heap.begin(), q.heap.end(), [&](uint32_t a, uint32_t b) {
      return target.closer(peers_[b].info.id, peers_[a].info.id);
    });
    q.heap.pop_back();
    mark_visited(q, peer);
    std::vector<uint32_t> batch{query};
    // Other queries for which this peer is a candidate worth asking.
    auto& waiting = peers_[peer].waiting;
    size_t keep = 0;
    for (size_t i = 0; i < waiting.size(); ++i) {
      uint32_t other = waiting[i];
      if (batch.size() >= options_.queries_per_call) {
        waiting[keep++] = other;
        continue;
      }
      Query& o = queries_[other];
      if (other == query || o.finished || visited(o, peer) || !within_bound(o, peer)) continue;
      mark_visited(o, peer);
      batch.push_back(other);
    }
    waiting.resize(keep);
    if (has_candidate(query)) enqueue(query);
    send_request(peer, std::move(batch));
  }
  pumping_ = false;
}

void Traversal::on_reply(uint32_t request, FindReply* reply) {
  auto it = requests_.find(request);
  if (it == requests_.end()) return;
  Request req = std::move(it->second);
  requests_.erase(it);
  --in_flight_;
  if (reply != nullptr && reply->results.size() != req.queries.size()) reply = nullptr;
  const PeerInfo from = peers_[req.peer].info;
  for (size_t i = 0; i < req.queries.size(); ++i) {
    uint32_t query = req.queries[i];
    Query& q = queries_[query];
    --q.active;
    if (!q.finished && reply != nullptr) {
      FindResult& result = reply->results[i];
      const NodeId& target = q.target;
      auto farther = [&](uint32_t a, uint32_t b) {
        return target.closer(peers_[a].info.id, peers_[b].info.id);
      };
      if (std::find(q.beam.begin(), q.beam.end(), req.peer) == q.beam.end() &&
          within_bound(q, req.peer)) {
        q.beam.push_back(req.peer);
        std::push_heap(q.beam.begin(), q.beam.end(), farther);
        if (q.beam.size() > options_.beam_size) {
          std::pop_heap(q.beam.begin(), q.beam.end(), farther);
          q.beam.pop_back();
        }
      }
      for (const auto& peer : result.nearest) {
        if (peer.id == self_ || banned_(peer)) continue;
        add_candidate(query, intern(peer));
      }
      if (result.kind == FindResult::Kind::kOmitted) {
        solo_.emplace_back(query, req.peer);
      } else if (result.kind == FindResult::Kind::kFound && on_result_ &&
                 on_result_(query, from, result)) {
        queries_[query].stop = true;
      }
    }
    maybe_finish(query);
    if (!queries_[query].finished && has_candidate(query)) enqueue(query);
  }
  pump();
}

}  // namespace hm::dht
