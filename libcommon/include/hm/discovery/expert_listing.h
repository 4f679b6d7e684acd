// Listing the live experts of a swarm: `hm-dht experts`.
// Threads: start and complete on the DHT node's loop thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "hm/dht/node.h"
#include "hm/discovery/expert_records.h"

namespace hm::discovery {

// Every live expert named by `targets`: a uid ("ffn.1.2") is looked up
// directly, a prefix ("ffn.1.") is walked level by level (one batched get
// per level) down to its experts. A bare prefix ("ffn.", no coordinate)
// has no key of its own, so its first `first_dim` indices are probed.
// `done` gets the experts sorted by uid, each once. Throws hm::UsageError
// for a target that is neither a uid nor a prefix, or a bare prefix with
// first_dim 0.
void list_experts(dht::DhtNode& node, const std::vector<std::string>& targets, int64_t first_dim,
                  std::function<void(std::vector<ExpertLocation>)> done);

}  // namespace hm::discovery
