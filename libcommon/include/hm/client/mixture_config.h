// The knobs of a mixture-of-experts layer (hivemind's names and meanings),
// and what one forward saw. Plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "hm/discovery/beam_search.h"

namespace hm::client {

struct MixtureConfig {
  int64_t in_features = 0;
  std::optional<int64_t> out_features;  // default: in_features (used when nobody answers)
  discovery::GridSpec grid;                 // prefix "ffn." and dims {4, 4}
  size_t k_best = 4;
  size_t k_min = 1;
  std::optional<double> forward_timeout;      // seconds
  std::optional<double> timeout_after_k_min;  // seconds
  size_t backward_k_min = 1;
  std::optional<double> backward_timeout;     // seconds
  bool allow_zero_outputs = false;
  bool detect_anomalies = false;
  // Simulating a worse network: drop this fraction of forward calls, and
  // delay every call by an exponentially distributed time of this mean.
  double inject_failures = 0;
  double latency_ms = 0;
};

// What one forward saw, for logs and progress bars.
struct MixtureStats {
  size_t experts_asked = 0;     // distinct experts called
  size_t experts_answered = 0;
  double search_seconds = 0;    // beam search
  double call_seconds = 0;      // expert calls
};

}  // namespace hm::client
