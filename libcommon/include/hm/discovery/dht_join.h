// Joining the DHT from a process that runs an hm::io::EventLoop (hm-serve,
// hm-call, hm-moe): node configs and the join itself.
// Threads: the EventLoop's thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <kj/async.h>

#include "hm/dht/node.h"

namespace hm::discovery {

// Parses every "host:port"; UsageError naming `what` for a bad one.
std::vector<io::Endpoint> parse_peers(const std::vector<std::string>& texts,
                                      std::string_view what);

// A client-mode node (others never add it to their routing tables) bound to
// any free port on the peers' side: loopback when they are local.
dht::DhtConfig client_node_config(const std::vector<io::Endpoint>& peers);

// Resolves once the node joined; rejects with "cannot join the DHT: ...".
kj::Promise<void> join(dht::DhtNode& node, std::vector<io::Endpoint> peers);

}  // namespace hm::discovery
