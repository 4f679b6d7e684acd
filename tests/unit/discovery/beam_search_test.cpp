#include "hm/discovery/beam_search.h"

#include <gtest/gtest.h>

#include <kj/async.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "memory_store.h"

namespace hm::discovery {
namespace {

std::vector<std::string> grid_uids(const std::string& prefix, std::vector<int64_t> dims,
                                   double keep, std::mt19937& rng) {
  std::vector<std::string> uids;
  std::vector<int64_t> index(dims.size(), 0);
  std::bernoulli_distribution kept(keep);
  while (true) {
    std::string uid = prefix.substr(0, prefix.size() - 1);
    for (auto i : index) uid += "." + std::to_string(i);
    if (kept(rng)) uids.push_back(uid);
    size_t d = dims.size();
    while (d > 0 && ++index[d - 1] == dims[d - 1]) index[--d] = 0;
    if (d == 0) break;
  }
  return uids;
}

std::vector<std::vector<ScoredExpert>> search(test::MemoryStore& memory, const GridSpec& grid,
                                              std::vector<std::vector<float>> scores,
                                              size_t beam) {
  kj::EventLoop loop;
  kj::WaitScope wait_scope(loop);
  return find_best_experts(memory.store(), grid, std::move(scores), {.beam_size = beam}, 0)
      .wait(wait_scope);
}

// Exhaustive top-k over the declared uids.
std::vector<std::string> exhaustive(const std::vector<std::string>& uids, const GridSpec& grid,
                                    const std::vector<float>& row, size_t k) {
  std::vector<std::pair<float, std::string>> scored;
  for (const auto& uid : uids) {
    float score = 0;
    int64_t offset = 0;
    size_t start = grid.prefix.size();
    for (size_t d = 0; d < grid.dims.size(); ++d) {
      size_t dot = uid.find('.', start);
      int64_t index = std::stoll(uid.substr(start, dot - start));
      score += row[offset + index];
      offset += grid.dims[d];
      start = dot + 1;
    }
    scored.push_back({score, uid});
  }
  std::sort(scored.begin(), scored.end(), [](auto& a, auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> top;
  for (size_t i = 0; i < k && i < scored.size(); ++i) top.push_back(scored[i].second);
  return top;
}

std::vector<std::vector<float>> random_scores(size_t samples, int64_t width, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> scores(samples, std::vector<float>(width));
  for (auto& row : scores)
    for (auto& v : row) v = normal(rng);
  return scores;
}

TEST(BeamSearch, EqualsExhaustiveTopKOnADenseGrid) {
  std::mt19937 rng(7);
  GridSpec grid{"ffn.", {10, 10, 10}};
  auto uids = grid_uids(grid.prefix, grid.dims, 1.0, rng);
  test::MemoryStore memory;
  memory.put(declaration_entries(uids, {"127.0.0.1", 1}, 1e9));
  auto scores = random_scores(16, grid.total(), rng);
  auto best = search(memory, grid, scores, 4);
  ASSERT_EQ(best.size(), 16u);
  for (size_t s = 0; s < 16; ++s) {
    std::vector<std::string> found;
    for (const auto& e : best[s]) found.push_back(e.location.uid);
    EXPECT_EQ(found, exhaustive(uids, grid, scores[s], 4)) << "sample " << s;
    for (size_t i = 1; i < best[s].size(); ++i) EXPECT_GE(best[s][i - 1].score, best[s][i].score);
  }
  // Batched: one round of gets per dimension step, not one per sample.
  EXPECT_EQ(memory.rounds, 2);
}

TEST(BeamSearch, TwoDimensionalGridNeedsOneRound) {
  std::mt19937 rng(1);
  GridSpec grid{"expert.", {4, 4}};
  auto uids = grid_uids(grid.prefix, grid.dims, 1.0, rng);
  test::MemoryStore memory;
  memory.put(declaration_entries(uids, {"127.0.0.1", 1}, 1e9));
  auto scores = random_scores(64, grid.total(), rng);
  auto best = search(memory, grid, scores, 4);
  for (size_t s = 0; s < 64; ++s) {
    ASSERT_EQ(best[s].size(), 4u);
    EXPECT_EQ(best[s][0].location.uid, exhaustive(uids, grid, scores[s], 1)[0]);
    EXPECT_EQ(best[s][0].coordinates.size(), 2u);
  }
  EXPECT_EQ(memory.rounds, 1);
}

TEST(BeamSearch, SparseGridReturnsOnlyLiveExpertsAndCachesDeadPrefixes) {
  std::mt19937 rng(3);
  GridSpec grid{"ffn.", {8, 8}};
  // Only rows 2 and 5 have experts.
  std::vector<std::string> uids{"ffn.2.1", "ffn.2.7", "ffn.5.0"};
  test::MemoryStore memory;
  memory.put(declaration_entries(uids, {"127.0.0.1", 1}, 1e9));
  auto scores = random_scores(3, grid.total(), rng);
  auto best = search(memory, grid, scores, 4);
  for (const auto& sample : best) {
    EXPECT_EQ(sample.size(), 3u);  // every live expert, no more
    for (const auto& e : sample) {
      EXPECT_NE(std::find(uids.begin(), uids.end(), e.location.uid), uids.end());
    }
  }
  EXPECT_FALSE(memory.negatives.empty());
  for (const auto& key : memory.negatives) EXPECT_TRUE(key == "ffn.0." || key.size() == 6) << key;
}

TEST(BeamSearch, OneDimensionalGridUsesTheFlatEntries) {
  std::mt19937 rng(4);
  GridSpec grid{"e.", {5}};
  std::vector<std::string> uids{"e.0", "e.1", "e.3"};
  test::MemoryStore memory;
  memory.put(declaration_entries(uids, {"127.0.0.1", 2}, 1e9));
  std::vector<std::vector<float>> scores{{0.f, 5.f, 9.f, 1.f, 7.f}};
  auto best = search(memory, grid, scores, 2);
  ASSERT_EQ(best[0].size(), 2u);
  // e.2 and e.4 score higher but do not exist.
  EXPECT_EQ(best[0][0].location.uid, "e.1");
  EXPECT_EQ(best[0][1].location.uid, "e.3");
  EXPECT_EQ(best[0][0].location.server, (HostPort{"127.0.0.1", 2}));
}

TEST(BeamSearch, MinusInfinityIsNeverPicked) {
  GridSpec grid{"ffn.", {2, 2}};
  std::mt19937 rng(5);
  auto uids = grid_uids(grid.prefix, grid.dims, 1.0, rng);
  test::MemoryStore memory;
  memory.put(declaration_entries(uids, {"127.0.0.1", 1}, 1e9));
  std::vector<std::vector<float>> scores{{-INFINITY, 0.f, 1.f, -INFINITY}};
  auto best = search(memory, grid, scores, 4);
  ASSERT_EQ(best[0].size(), 1u);
  EXPECT_EQ(best[0][0].location.uid, "ffn.1.0");
}

TEST(BeamSearch, EmptySwarmGivesNoExperts) {
  test::MemoryStore memory;
  std::vector<std::vector<float>> scores{{1.f, 2.f, 3.f, 4.f}};
  auto best = search(memory, {"ffn.", {2, 2}}, scores, 2);
  ASSERT_EQ(best.size(), 1u);
  EXPECT_TRUE(best[0].empty());
}

}  // namespace
}  // namespace hm::discovery
