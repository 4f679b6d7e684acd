#include "hm/dht/blacklist.h"

#include <cmath>

namespace hm::dht {

bool Blacklist::banned(const io::Endpoint& peer, double now) const {
  return remaining(peer, now) > 0;
}

double Blacklist::remaining(const io::Endpoint& peer, double now) const {
  auto it = entries_.find(peer);
  if (it == entries_.end() || it->second.until <= now) return 0;
  return it->second.until - now;
}

void Blacklist::register_failure(const io::Endpoint& peer, double now) {
  if (base_ <= 0) return;
  auto it = entries_.find(peer);
  if (it == entries_.end()) {
    if (entries_.size() >= max_entries_) {
      std::erase_if(entries_, [&](const auto& e) { return e.second.until <= now; });
      if (entries_.size() >= max_entries_) return;
    }
    it = entries_.emplace(peer, Entry{}).first;
  }
  Entry& entry = it->second;
  if (entry.until > now) return;  // already banned
  double ban = base_ * std::pow(backoff_, std::min<uint32_t>(entry.failures, 30));
  entry.until = now + ban;
  ++entry.failures;
}

size_t Blacklist::banned_count(double now) const {
  size_t count = 0;
  for (const auto& [peer, entry] : entries_) count += entry.until > now;
  return count;
}

}  // namespace hm::dht
