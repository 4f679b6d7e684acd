// Listing the live experts of a swarm: `hm-dht experts`.
// Threads: start and complete on the DHT node's loop thread.
#pragma once

#include <kj/async.h>

#include <string>
#include <vector>

#include "hm/dht/node.h"
#include "hm/discovery/expert_records.h"

namespace hm::discovery {

// Every live expert named by `targets`: a uid ("ffn.1.2") is looked up
// directly, a prefix ("ffn.1.") is walked level by level (one batched get
// per level) down to its experts. A bare prefix ("ffn.", no coordinate)
// has no key of its own, so its first `first_dim` indices are probed.
// Resolves with the experts sorted by uid, each once. Throws hm::UsageError
// (before any lookup) for a target that is neither a uid nor a prefix, or a
// bare prefix with first_dim 0.
kj::Promise<std::vector<ExpertLocation>> list_experts(dht::DhtNode& node,
                                                      const std::vector<std::string>& targets,
                                                      int64_t first_dim);

}  // namespace hm::discovery
