// Private to hm_dht. Traversal: an iterative Kademlia lookup of many keys
// at once (hivemind's traverse_dht).
//
// Per key ("query") it keeps a min-heap of candidate peers, the set of peers
// already seen, and a beam: the beam_size nearest peers that answered. A
// candidate is worth asking while the beam is not full or the candidate is
// nearer than the beam's farthest. A query ends when nothing is worth asking
// and none of its requests is in flight, or when the result callback says
// stop (a value good enough was found).
//
// Requests: at most `alpha` in flight per query and `max_in_flight` in all.
// A request asks one peer about its query and about up to
// queries_per_call - 1 other queries for which that peer is a candidate
// worth asking, so that lookups of many keys share requests.
//
// Threads: loop thread only. The owner sends the requests (send) and hands
// every answer back through on_reply, exactly once per request; callbacks
// (result, query done) run inside start() and on_reply().
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <unordered_map>
#include <vector>

#include "hm/dht/protocol.h"

namespace hm::dht {

class Traversal {
 public:
  struct Options {
    size_t beam_size = 20;
    size_t alpha = 3;
    size_t queries_per_call = 16;
    size_t max_in_flight = 32;
  };
  // Sends a find for `keys` to `peer`; answer with on_reply(request, ...).
  using SendFn = std::function<void(uint32_t request, const PeerInfo& peer,
                                    std::span<const NodeId> keys)>;
  using BannedFn = std::function<bool(const PeerInfo& peer)>;
  // A value found for `query`; return true to end that query.
  using ResultFn = std::function<bool(size_t query, const PeerInfo& from, FindResult& result)>;
  // `query` ended; `nearest`: the peers that answered, nearest first.
  using DoneFn = std::function<void(size_t query, std::vector<PeerInfo> nearest)>;

  Traversal(const NodeId& self, std::vector<NodeId> targets, Options options, SendFn send,
            BannedFn banned, ResultFn on_result, DoneFn on_done);

  // Seeds a query's candidates (before start()).
  void add_candidates(size_t query, std::span<const PeerInfo> peers);
  void start();
  // The answer to a request (nullptr: the peer did not answer).
  void on_reply(uint32_t request, FindReply* reply);

  bool done() const { return unfinished_ == 0; }
  size_t size() const { return queries_.size(); }
  const NodeId& target(size_t query) const { return queries_[query].target; }

 private:
  struct Peer {
    PeerInfo info;
    std::vector<uint32_t> waiting;  // queries for which it is a candidate
  };
  struct Query {
    NodeId target;
    std::vector<uint32_t> heap;  // candidates, nearest on top
    std::vector<uint32_t> seen;  // sorted (peer << 1 | visited)
    std::vector<uint32_t> beam;  // answered, farthest on top
    uint16_t active = 0;
    bool finished = false, queued = false, stop = false;
  };
  struct Request {
    uint32_t peer;
    std::vector<uint32_t> queries;
  };

  uint32_t intern(const PeerInfo& peer);
  void add_candidate(uint32_t query, uint32_t peer);
  bool visited(const Query& q, uint32_t peer) const;
  void mark_visited(Query& q, uint32_t peer);
  bool within_bound(const Query& q, uint32_t peer) const;
  bool has_candidate(uint32_t query);  // drops useless tops
  void enqueue(uint32_t query);
  void maybe_finish(uint32_t query);
  void finish(uint32_t query);
  void send_request(uint32_t peer, std::vector<uint32_t> queries);
  void pump();

  NodeId self_;
  Options options_;
  SendFn send_;
  BannedFn banned_;
  ResultFn on_result_;
  DoneFn on_done_;
  std::vector<Peer> peers_;
  std::unordered_map<NodeId, uint32_t, NodeIdHash> peer_index_;
  std::vector<Query> queries_;
  std::deque<uint32_t> ready_;
  std::deque<std::pair<uint32_t, uint32_t>> solo_;  // (query, peer): ask again alone
  std::unordered_map<uint32_t, Request> requests_;
  uint32_t next_request_ = 1;
  size_t in_flight_ = 0;
  size_t unfinished_ = 0;
  bool pumping_ = false;
};

}  // namespace hm::dht
