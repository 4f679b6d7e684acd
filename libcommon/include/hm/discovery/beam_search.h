// Beam search over an expert grid in the DHT (hivemind's MoEBeamSearcher,
// batched): for every sample, the `beam_size` live experts with the highest
// score, where an expert's score is the sum of its per-dimension scores.
//
// It walks the grid one dimension at a time, best-first: a prefix is alive
// when the DHT lists experts under it; dead ones are skipped (and, with
// negative caching, marked in the DHT so that later searches skip them
// sooner) and the next best prefix takes their place. The keys every sample
// needs in one step are fetched together in one batched DHT get, so a batch
// of 64 samples over a 4x4 grid costs one lookup round, not 64 x 4.
// On a dense grid the result equals exhaustive top-k.
//
// Threads: start and complete on the DHT's loop thread.
#pragma once

#include <kj/async.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hm/dht/node.h"
#include "hm/discovery/expert_records.h"

namespace hm::discovery {

struct GridSpec {
  std::string prefix;         // "ffn." (ends with '.')
  std::vector<int64_t> dims;  // size of every dimension, e.g. {4, 4}

  int64_t total() const;      // sum of dims: the width of a score row
};

struct ScoredExpert {
  ExpertLocation location;
  std::vector<int64_t> coordinates;  // one per dimension
  float score = 0;
};

// How the search reads and writes the DHT; the default uses a DhtNode.
struct PrefixStore {
  using Values = std::vector<std::optional<dht::StoredValue>>;
  std::function<kj::Promise<Values>(std::vector<std::string> keys)> get;
  std::function<void(std::vector<dht::StoreEntry> entries)> store;  // fire and forget

  static PrefixStore of(dht::DhtNode& node);
};

struct BeamSearchOptions {
  size_t beam_size = 4;
  bool negative_caching = true;
  double negative_ttl_s = 30;  // how long a dead prefix stays marked
};

// Per sample, the best experts, best first.
using BestExperts = std::vector<std::vector<ScoredExpert>>;

// `scores` has one row per sample, each GridSpec::total() wide: the scores
// of dimension 0's indices, then dimension 1's, ... (-inf = never pick).
// Resolves with at most beam_size experts per sample. Throws hm::Error
// (before any lookup) for a bad grid or a score row of the wrong width.
kj::Promise<BestExperts> find_best_experts(PrefixStore store, GridSpec grid,
                                           std::vector<std::vector<float>> scores,
                                           BeamSearchOptions options, double now);

}  // namespace hm::discovery
