// Private to hm_dht. RateLimiter: a token bucket per source address (rate
// per second, burst capacity) in a bounded table: when full, buckets that
// refilled are dropped (at most once a second) and a new address that still
// does not fit is refused. Times are a monotonic clock in seconds.
// Threads: loop thread only.
#pragma once

#include <algorithm>
#include <unordered_map>

#include "hm/io/udp_socket.h"

namespace hm::dht {

class RateLimiter {
 public:
  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}

  // True when a request from `from` at `now` is within the limit (and
  // takes a token); always true when the rate is 0 or less.
  bool allow(const io::Endpoint& from, double now) {
    if (rate_ <= 0) return true;
    auto it = buckets_.find(from);
    if (it == buckets_.end()) {
      if (buckets_.size() >= kMaxEntries) prune(now);
      if (buckets_.size() >= kMaxEntries) return false;
      it = buckets_.emplace(from, Bucket{burst_, now}).first;
    }
    Bucket& b = it->second;
    b.tokens = std::min(burst_, b.tokens + (now - b.last) * rate_);
    b.last = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

 private:
  static constexpr size_t kMaxEntries = 8192;
  struct Bucket {
    double tokens, last;
  };
  void prune(double now) {
    if (now - last_prune_ < 1.0) return;
    last_prune_ = now;
    std::erase_if(buckets_, [&](const auto& entry) {
      return entry.second.tokens + (now - entry.second.last) * rate_ >= burst_;
    });
  }
  double rate_, burst_;
  double last_prune_ = -1e9;
  std::unordered_map<io::Endpoint, Bucket, io::EndpointHash> buckets_;
};

}  // namespace hm::dht
