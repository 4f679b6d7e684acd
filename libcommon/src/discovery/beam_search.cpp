#include "hm/discovery/beam_search.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "hm/base/error.h"

namespace hm::discovery {
namespace {

struct Candidate {
  float score = 0;
  std::string key;                   // a prefix key, "ffn.1.2."
  std::vector<int64_t> coordinates;  // its coordinates, {1, 2}
};

bool by_score(const Candidate& a, const Candidate& b) {
  return a.score != b.score ? a.score > b.score : a.key < b.key;
}

struct SampleState {
  std::vector<Candidate> candidates;  // best first
  size_t next = 0;                    // first candidate not yet judged
  std::vector<Candidate> alive;       // the beam, best first
};

// One search for a whole batch; the promise run() returns must not outlive it.
class Search {
 public:
  Search(PrefixStore store, GridSpec grid, std::vector<std::vector<float>> scores,
         BeamSearchOptions options, double now)
      : store_(std::move(store)),
        grid_(std::move(grid)),
        scores_(std::move(scores)),
        options_(options),
        now_(now),
        samples_(scores_.size()) {}

  kj::Promise<BestExperts> run() {
    for (size_t s = 0; s < samples_.size(); ++s) {
      for (int64_t i = 0; i < grid_.dims[0]; ++i) {
        float score = score_of(s, 0, i);
        if (std::isinf(score) && score < 0) continue;
        samples_[s].candidates.push_back({score, grid_.prefix + std::to_string(i) + ".", {i}});
      }
      std::sort(samples_[s].candidates.begin(), samples_[s].candidates.end(), by_score);
    }
    return run_stage().then([this] { return finish(); });
  }

 private:
  float score_of(size_t sample, size_t dim, int64_t index) const {
    if (index < 0 || index >= grid_.dims[dim]) return -INFINITY;
    int64_t offset = 0;
    for (size_t d = 0; d < dim; ++d) offset += grid_.dims[d];
    return scores_[sample][offset + index];
  }

  bool is_alive(const std::string& key) const {
    auto it = fetched_.find(key);
    return it != fetched_.end() && it->second && !successors(*it->second).empty();
  }

  // Judges fetched candidates best-first, fetching what it still needs,
  // until the last stage is judged.
  kj::Promise<void> run_stage() {
    std::set<std::string> wanted;
    for (auto& sample : samples_) {
      while (sample.alive.size() < options_.beam_size && sample.next < sample.candidates.size()) {
        const auto& candidate = sample.candidates[sample.next];
        if (!fetched_.count(candidate.key)) break;
        if (is_alive(candidate.key)) sample.alive.push_back(candidate);
        ++sample.next;
      }
      size_t missing = options_.beam_size - std::min(options_.beam_size, sample.alive.size());
      for (size_t i = sample.next; i < sample.candidates.size() && missing > 0; ++i) {
        if (!fetched_.count(sample.candidates[i].key)) {
          wanted.insert(sample.candidates[i].key);
          --missing;
        }
      }
    }
    if (wanted.empty()) return next_stage();
    std::vector<std::string> keys(wanted.begin(), wanted.end());
    return store_.get(keys).then([this, keys](PrefixStore::Values values) {
      on_fetched(keys, std::move(values));
      return run_stage();
    });
  }

  void on_fetched(const std::vector<std::string>& keys, PrefixStore::Values values) {
    std::vector<dht::StoreEntry> negatives;
    for (size_t i = 0; i < keys.size(); ++i) {
      auto value = i < values.size() ? std::move(values[i]) : std::nullopt;
      if (!value && options_.negative_caching) {
        negatives.push_back(negative_entry(keys[i], now_ + options_.negative_ttl_s));
      }
      fetched_[keys[i]] = std::move(value);
    }
    if (!negatives.empty() && store_.store) store_.store(std::move(negatives));
  }

  // The prefixes of this stage have `stage + 1` coordinates; the last stage
  // has D - 1 (or 1 for a one-dimensional grid), whose successors are the
  // experts themselves.
  kj::Promise<void> next_stage() {
    size_t dims = grid_.dims.size();
    size_t last_stage = dims >= 2 ? dims - 2 : 0;
    if (stage_ == last_stage) return kj::READY_NOW;
    ++stage_;
    for (size_t s = 0; s < samples_.size(); ++s) {
      auto& sample = samples_[s];
      std::vector<Candidate> expanded;
      for (const auto& prefix : sample.alive) {
        std::set<int64_t> seen;
        for (const auto& [coordinate, location] : successors(*fetched_.at(prefix.key))) {
          float score = score_of(s, stage_, coordinate);
          if (!seen.insert(coordinate).second || (std::isinf(score) && score < 0)) continue;
          auto coordinates = prefix.coordinates;
          coordinates.push_back(coordinate);
          expanded.push_back({prefix.score + score,
                              prefix.key + std::to_string(coordinate) + ".", coordinates});
        }
      }
      std::sort(expanded.begin(), expanded.end(), by_score);
      sample = SampleState{std::move(expanded), 0, {}};
    }
    return run_stage();
  }

  BestExperts finish() {
    size_t dims = grid_.dims.size();
    BestExperts best(samples_.size());
    for (size_t s = 0; s < samples_.size(); ++s) {
      std::vector<ScoredExpert> experts;
      std::set<std::string> seen;
      for (const auto& prefix : samples_[s].alive) {
        for (auto& [coordinate, location] : successors(*fetched_.at(prefix.key))) {
          ScoredExpert expert{location, prefix.coordinates, prefix.score};
          if (dims >= 2) {
            float score = score_of(s, dims - 1, coordinate);
            if (std::isinf(score) && score < 0) continue;
            expert.score += score;
            expert.coordinates.push_back(coordinate);
          }
          // Only the expert the key names, not a stray entry of another uid.
          std::string expected = dims >= 2 ? prefix.key + std::to_string(coordinate)
                                           : prefix.key.substr(0, prefix.key.size() - 1);
          if (location.uid != expected || !seen.insert(location.uid).second) continue;
          experts.push_back(std::move(expert));
        }
      }
      std::sort(experts.begin(), experts.end(), [](const auto& a, const auto& b) {
        return a.score != b.score ? a.score > b.score : a.location.uid < b.location.uid;
      });
      if (experts.size() > options_.beam_size) experts.resize(options_.beam_size);
      best[s] = std::move(experts);
    }
    return best;
  }

  PrefixStore store_;
  GridSpec grid_;
  std::vector<std::vector<float>> scores_;
  BeamSearchOptions options_;
  double now_;
  std::vector<SampleState> samples_;
  std::map<std::string, std::optional<dht::StoredValue>> fetched_;
  size_t stage_ = 0;
};

}  // namespace

int64_t GridSpec::total() const {
  int64_t sum = 0;
  for (auto d : dims) sum += d;
  return sum;
}

PrefixStore PrefixStore::of(dht::DhtNode& node) {
  PrefixStore store;
  store.get = [&node](std::vector<std::string> keys) { return node.get(std::move(keys), false); };
  // Dropping the promise leaves the store running: fire and forget.
  store.store = [&node](std::vector<dht::StoreEntry> entries) {
    (void)node.store(std::move(entries));
  };
  return store;
}

kj::Promise<BestExperts> find_best_experts(PrefixStore store, GridSpec grid,
                                           std::vector<std::vector<float>> scores,
                                           BeamSearchOptions options, double now) {
  require(!grid.dims.empty() && grid.prefix.ends_with('.'),
          "beam search: bad grid '{}' (expected a prefix ending in '.' and dimensions)",
          grid.prefix);
  for (const auto& row : scores) {
    require(static_cast<int64_t>(row.size()) == grid.total(),
            "beam search: a score row has {} values, the grid needs {}", row.size(), grid.total());
  }
  if (scores.empty() || options.beam_size == 0) return BestExperts(scores.size());
  auto search =
      kj::heap<Search>(std::move(store), std::move(grid), std::move(scores), options, now);
  auto best = search->run();
  return best.attach(kj::mv(search));
}

}  // namespace hm::discovery
