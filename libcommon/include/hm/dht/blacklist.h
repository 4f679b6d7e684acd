// Blacklist: peers that did not answer, banned for base x backoff^n seconds
// after their n-th failure in a row (hivemind: 5 s x 2^n). A failure while
// banned does not extend the ban; an answer clears the record. Times are a
// monotonic clock in seconds, passed in.
//
// Bounded: at most max_entries records; when full, expired bans are dropped
// first and a peer that still does not fit is not recorded.
// Threads: not thread-safe; owned by one node on its loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "hm/io/udp_socket.h"

namespace hm::dht {

class Blacklist {
 public:
  Blacklist(double base_seconds, double backoff_rate, size_t max_entries = 4096)
      : base_(base_seconds), backoff_(backoff_rate), max_entries_(max_entries) {}

  bool banned(const io::Endpoint& peer, double now) const;
  // Bans the peer (unless already banned) for base * backoff^failures.
  void register_failure(const io::Endpoint& peer, double now);
  void register_success(const io::Endpoint& peer) { entries_.erase(peer); }
  // Seconds left on the ban (0 when not banned).
  double remaining(const io::Endpoint& peer, double now) const;
  // Peers banned at `now`.
  size_t banned_count(double now) const;

 private:
  struct Entry {
    double until = 0;
    uint32_t failures = 0;
  };
  double base_, backoff_;
  size_t max_entries_;
  std::unordered_map<io::Endpoint, Entry, io::EndpointHash> entries_;
};

}  // namespace hm::dht
