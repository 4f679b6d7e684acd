// The abuse limits as flags, named the same on every tool that enforces
// them: hm-serve (the expert server's limits and those of its DHT node) and
// hm-dht (its nodes' limits). Each flag's default is the library default
// (hm/rpc/server_limits.h, hm/dht/protocol.h, hm/dht/storage.h); man hm-serve
// and man hm-dht list them under LIMITS.
//
// Header-only, like app.h: it includes CLI11, which only the tools' main.cpp
// files include.
#pragma once

#include <cstdint>

#include <CLI/CLI.hpp>

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

inline void add_server_limit_flags(CLI::App& app, ServerLimitFlags& flags) {
  // Cap'n Proto cannot address more than 2^32 words (32 GiB) in one message.
  app.add_option("--max-message-mb", flags.max_message_mb,
                 "Refuse requests larger than this many MiB (the connection is closed), "
                 "and fail calls whose response would be larger")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{32767}));
  app.add_option("--max-tensor-elements", flags.max_tensor_elements,
                 "Refuse a request holding a tensor with more elements")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-tensor-mb", flags.max_tensor_mb,
                 "Refuse a request holding a tensor larger than this many MiB")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  app.add_option("--max-tensors", flags.max_tensors, "Refuse requests with more tensors")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-connections", flags.max_connections,
                 "Connections open at once; beyond, a new one replaces the oldest that made "
                 "no call yet, else it is closed")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-in-flight", flags.max_in_flight,
                 "Refuse forward/backward calls beyond this many unanswered on one connection")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--allow-nonfinite", flags.allow_nonfinite,
               "Serve inputs and gradients that hold NaN or Inf (default: refuse them, so that "
               "one bad client cannot poison the weights)");
}

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

inline void add_dht_limit_flags(CLI::App& app, DhtLimitFlags& flags) {
  app.add_option("--dht-max-rps", flags.max_rps,
                 "DHT requests per second served to one peer address (bursts of twice that); "
                 "the rest are dropped (0 = no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--dht-max-value-bytes", flags.max_value_bytes,
                 "Refuse to store a DHT value (or dictionary) larger than this")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--dht-max-keys", flags.max_keys,
                 "Keys a DHT node stores for others; beyond, those expiring first are dropped")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

}  // namespace hm::cli
