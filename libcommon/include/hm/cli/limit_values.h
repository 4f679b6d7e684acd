// The values of the abuse-limit flags (hm/cli/limit_flags.h adds the flags
// themselves), in the flags' units, and what they become: the expert
// server's limits and those of a DHT node. Plain values; CLI11-free.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hm/dht/protocol.h"
#include "hm/dht/storage.h"
#include "hm/rpc/server_limits.h"

namespace hm::cli {

// --max-message-mb, --max-tensor-elements, --max-tensor-mb, --max-tensors,
// --max-connections, --max-in-flight, --allow-nonfinite.
struct ServerLimitFlags {
  uint64_t max_message_mb = rpc::ServerLimits{}.max_message_bytes >> 20;
  int64_t max_tensor_elements = rpc::ServerLimits{}.max_elements;
  uint64_t max_tensor_mb = rpc::ServerLimits{}.max_tensor_bytes >> 20;
  uint32_t max_tensors = rpc::ServerLimits{}.max_tensors;
  uint32_t max_connections = rpc::ServerLimits{}.max_connections;
  uint32_t max_in_flight = rpc::ServerLimits{}.max_in_flight;
  bool allow_nonfinite = !rpc::ServerLimits{}.reject_nonfinite;

  rpc::ServerLimits limits() const {
    rpc::ServerLimits limits;
    limits.max_message_bytes = max_message_mb << 20;
    limits.max_elements = max_tensor_elements;
    limits.max_tensor_bytes = max_tensor_mb << 20;
    limits.max_tensors = max_tensors;
    limits.max_connections = max_connections;
    limits.max_in_flight = max_in_flight;
    limits.reject_nonfinite = !allow_nonfinite;
    return limits;
  }
};

// --dht-max-rps, --dht-max-value-bytes, --dht-max-keys.
struct DhtLimitFlags {
  double max_rps = dht::ProtocolConfig{}.requests_per_second;
  size_t max_value_bytes = dht::StorageLimits{}.max_value_bytes;
  size_t max_keys = dht::StorageLimits{}.max_keys;

  // Sets the per-peer rate (burst: two seconds' worth) and the bounds of
  // what the node stores for others.
  void apply(dht::ProtocolConfig& protocol, dht::StorageLimits& storage) const {
    protocol.requests_per_second = max_rps;
    protocol.request_burst = 2 * max_rps;
    storage.max_value_bytes = max_value_bytes;
    storage.max_keys = max_keys;
  }
};

}  // namespace hm::cli
