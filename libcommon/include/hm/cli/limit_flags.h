// The abuse limits as flags, named the same on every tool that enforces
// them: hm-serve (the expert server's limits and those of its DHT node) and
// hm-dht (its nodes' limits). Each flag's default is the library default
// (hm/rpc/server_limits.h, hm/dht/protocol.h, hm/dht/storage.h); man hm-serve
// and man hm-dht list them under LIMITS.
//
// Header-only, like app.h: it includes CLI11, which only the tools' main.cpp
// files include. The values themselves: hm/cli/limit_values.h.
#pragma once

#include <CLI/CLI.hpp>

#include "hm/cli/limit_values.h"

namespace hm::cli {

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
