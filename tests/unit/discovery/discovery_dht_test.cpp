// Experts declared through one DHT node are found, and searched, through
// another: real nodes on 127.0.0.1 in one process.
#include <gtest/gtest.h>

#include <random>

#include <fmt/format.h>

#include "../dht/loop_fixture.h"
#include "hm/dht/node_group.h"
#include "hm/discovery/beam_search.h"
#include "hm/discovery/expert_declarer.h"

namespace hm::discovery {
namespace {

using Found = std::vector<std::optional<ExpertLocation>>;

class SwarmDht : public dht::testing::LoopTest {
 protected:
  void SetUp() override {
    dht::DhtConfig config;
    config.listen = io::Endpoint::parse("127.0.0.1:0", "test");
    swarm_ = std::make_unique<dht::NodeGroup>(event_loop(), config, 8);
    ASSERT_EQ(error_of(swarm_->bootstrap({}, true), 20), "");
  }
  void TearDown() override { swarm_.reset(); }

  std::vector<std::string> grid_uids(int rows, int cols) {
    std::vector<std::string> uids;
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) uids.push_back(fmt::format("ffn.{}.{}", i, j));
    return uids;
  }

  std::unique_ptr<dht::NodeGroup> swarm_;
};

TEST_F(SwarmDht, DeclaredExpertsAreFoundFromAnotherNode) {
  auto uids = grid_uids(4, 4);
  ExpertDeclarer declarer(event_loop(), swarm_->node(0), uids, {"127.0.0.1", 7000}, 30);
  declarer.start();
  ASSERT_TRUE(run_until([&] { return declarer.accepted() > 0; }, 20));

  auto asked = uids;
  asked.push_back("ffn.9.9");
  auto found = settle(find_experts(swarm_->node(7), asked), 20).value_or(Found{});
  ASSERT_EQ(found.size(), 17u);
  for (size_t i = 0; i < 16; ++i) {
    ASSERT_TRUE(found[i].has_value()) << uids[i];
    EXPECT_EQ(found[i]->server, (HostPort{"127.0.0.1", 7000}));
  }
  EXPECT_FALSE(found[16].has_value());
}

TEST_F(SwarmDht, BeamSearchOverTheDhtFindsTheBestLiveExperts) {
  auto uids = grid_uids(4, 4);
  uids.erase(std::remove(uids.begin(), uids.end(), "ffn.2.2"), uids.end());
  ExpertDeclarer declarer(event_loop(), swarm_->node(1), uids, {"127.0.0.1", 7001}, 30);
  declarer.start();
  ASSERT_TRUE(run_until([&] { return declarer.accepted() > 0; }, 20));

  // Sample 0 prefers row 2 and column 2: ffn.2.2 is missing, so the best
  // live experts are its neighbours.
  std::vector<std::vector<float>> scores{{0, 0, 9, 0, 0, 0, 9, 0}, {5, 0, 0, 0, 0, 0, 0, 5}};
  auto best = settle(find_best_experts(PrefixStore::of(swarm_->node(6)), GridSpec{"ffn.", {4, 4}},
                                       scores, {.beam_size = 2}, swarm_->node(6).dht_time()),
                     20)
                  .value_or(BestExperts{});
  ASSERT_EQ(best.size(), 2u);
  ASSERT_EQ(best[0].size(), 2u);
  EXPECT_NE(best[0][0].location.uid, "ffn.2.2");
  EXPECT_EQ(best[0][0].score, 9.0f);
  EXPECT_EQ(best[1][0].location.uid, "ffn.0.3");
  EXPECT_EQ(best[1][0].location.server, (HostPort{"127.0.0.1", 7001}));
}

TEST_F(SwarmDht, ThousandsOfUidsDeclareAndResolve) {
  auto uids = grid_uids(50, 40);  // 2000 experts
  ExpertDeclarer declarer(event_loop(), swarm_->node(2), uids, {"127.0.0.1", 7002}, 60);
  declarer.start();
  ASSERT_TRUE(run_until([&] { return declarer.accepted() > 0; }, 60));
  auto found = settle(find_experts(swarm_->node(5), uids), 60).value_or(Found{});
  ASSERT_EQ(found.size(), uids.size());
  size_t resolved = 0;
  for (const auto& f : found) resolved += f.has_value();
  EXPECT_EQ(resolved, uids.size());
}

}  // namespace
}  // namespace hm::discovery
