// RemoteMixtureOfExperts against a local reference built from the same
// experts (same uids and seed give the same weights), over a real
// in-process swarm.
#include "hm/client/mixture.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "hm/base/error.h"
#include "hm/moe/expert_layers.h"
#include "local_swarm.h"

namespace hm::client {
namespace {

constexpr int64_t kHidden = 8;
constexpr uint64_t kSeed = 11;

moe::ExpertServerConfig ffn_servers(std::vector<std::string> uids, std::string cls = "ffn") {
  moe::ExpertServerConfig config;
  config.uids = std::move(uids);
  config.expert_cls = std::move(cls);
  config.hidden_dim = kHidden;
  config.seed = kSeed;
  config.optimizer = "none";  // weights stay equal to the local reference
  return config;
}

std::vector<std::string> grid_uids() {
  return {"ffn.0.0", "ffn.0.1", "ffn.1.0", "ffn.1.1"};
}

MixtureConfig mixture_config(size_t k_best) {
  MixtureConfig config;
  config.in_features = kHidden;
  config.grid = {"ffn.", {2, 2}};
  config.k_best = k_best;
  config.forward_timeout = 10;
  config.backward_timeout = 10;
  return config;
}

// The mixture computed locally: exhaustive top-k over the full grid,
// softmax over the chosen experts' summed scores, weighted sum.
torch::Tensor local_mixture(const torch::Tensor& x, torch::nn::Linear& gate, size_t k_best) {
  std::map<std::string, std::unique_ptr<moe::ExpertModule>> experts;
  for (const auto& uid : grid_uids()) {
    experts[uid] = moe::make_expert({"ffn", kHidden, {}, {}}, uid, kSeed);
  }
  auto logits = gate->forward(x);
  std::vector<torch::Tensor> rows;
  for (int64_t s = 0; s < x.size(0); ++s) {
    std::vector<std::pair<float, std::pair<int, int>>> scored;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        scored.push_back({logits[s][i].item<float>() + logits[s][2 + j].item<float>(), {i, j}});
    std::sort(scored.begin(), scored.end(), [](auto& a, auto& b) { return a.first > b.first; });
    std::vector<torch::Tensor> chosen_logits, outputs;
    for (size_t k = 0; k < k_best; ++k) {
      auto [i, j] = scored[k].second;
      chosen_logits.push_back(logits[s][i] + logits[s][2 + j]);
      auto uid = "ffn." + std::to_string(i) + "." + std::to_string(j);
      outputs.push_back(experts[uid]->forward({x[s].unsqueeze(0)})[0][0]);
    }
    auto weights = torch::softmax(torch::stack(chosen_logits), 0);
    rows.push_back((weights.unsqueeze(1) * torch::stack(outputs)).sum(0));
  }
  return torch::stack(rows);
}

class Mixture : public ::testing::Test {
 protected:
  test::LocalSwarm swarm;
  std::shared_ptr<discovery::SwarmClient> client;

  void SetUp() override {
    swarm.add_server(ffn_servers({"ffn.0.0", "ffn.0.1"}));
    swarm.add_server(ffn_servers({"ffn.1.0", "ffn.1.1"}));
    client = std::make_shared<discovery::SwarmClient>(std::vector<std::string>{swarm.dht_address()});
  }
};

TEST_F(Mixture, ForwardAndBackwardMatchALocalReference) {
  torch::manual_seed(0);
  RemoteMixtureOfExperts moe(mixture_config(2), client);
  auto x = torch::randn({6, kHidden}, torch::requires_grad());
  auto y = moe->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{6, kHidden}));
  EXPECT_EQ(moe->last_stats().experts_asked, 4u);
  EXPECT_EQ(moe->last_stats().experts_answered, 4u);

  auto x_ref = x.detach().clone().requires_grad_();
  torch::nn::Linear gate_ref(kHidden, 4);
  {
    torch::NoGradGuard no_grad;
    gate_ref->weight.copy_(moe->gate->weight);
    gate_ref->bias.copy_(moe->gate->bias);
  }
  auto y_ref = local_mixture(x_ref, gate_ref, 2);
  EXPECT_LT((y - y_ref).abs().max().item<float>(), 1e-5);

  auto dy = torch::randn_like(y);
  y.backward(dy);
  y_ref.backward(dy);
  EXPECT_LT((x.grad() - x_ref.grad()).abs().max().item<float>(), 1e-5);
  EXPECT_LT((moe->gate->weight.grad() - gate_ref->weight.grad()).abs().max().item<float>(), 1e-5);
}

TEST_F(Mixture, SurvivesAServerThatDied) {
  RemoteMixtureOfExperts moe(mixture_config(4), client);
  swarm.kill(1);  // ffn.1.* are still declared, but nobody answers
  auto x = torch::randn({3, kHidden}, torch::requires_grad());
  auto y = moe->forward(x);
  EXPECT_EQ(moe->last_stats().experts_asked, 4u);
  EXPECT_EQ(moe->last_stats().experts_answered, 2u);
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  y.sum().backward();
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
}

TEST_F(Mixture, NoExpertsIsAnErrorUnlessZeroOutputsAreAllowed) {
  auto config = mixture_config(2);
  config.grid.prefix = "nothing.";
  RemoteMixtureOfExperts strict(config, client);
  EXPECT_THROW(strict->forward(torch::randn({2, kHidden})), Error);
  config.allow_zero_outputs = true;
  RemoteMixtureOfExperts lenient(config, client);
  auto y = lenient->forward(torch::randn({2, kHidden}));
  EXPECT_EQ(y.abs().sum().item<float>(), 0.0f);
}

TEST_F(Mixture, DetectAnomaliesRefusesNonFiniteInputs) {
  auto config = mixture_config(2);
  config.detect_anomalies = true;
  RemoteMixtureOfExperts moe(config, client);
  auto x = torch::randn({2, kHidden});
  x[0][0] = NAN;
  EXPECT_THROW(moe->forward(x), Error);
}

TEST(MixtureTimeouts, SlowExpertsAreDroppedAfterKMin) {
  test::LocalSwarm swarm;
  swarm.add_server(ffn_servers({"ffn.0.0", "ffn.0.1", "ffn.1.0"}));
  swarm.add_server(ffn_servers({"ffn.1.1"}, "nop_delay"));  // answers after 0.5 s
  auto client =
      std::make_shared<discovery::SwarmClient>(std::vector<std::string>{swarm.dht_address()});
  auto config = mixture_config(4);
  config.k_min = 1;
  config.timeout_after_k_min = 0.05;
  RemoteMixtureOfExperts moe(config, client);
  auto start = std::chrono::steady_clock::now();
  auto y = moe->forward(torch::randn({2, kHidden}));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(moe->last_stats().experts_answered, 3u);
  EXPECT_LT(seconds, 0.45);  // did not wait for nop_delay's 0.5 s
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());

  // Without the grace period the forward_timeout decides: k_min cannot be
  // met by a 0.1 s deadline when only the slow expert is chosen.
  auto strict = mixture_config(1);
  strict.grid.dims = {2, 2};
  strict.forward_timeout = 0.1;
  strict.k_min = 1;
  RemoteMixtureOfExperts only_slow(strict, client);
  {
    torch::NoGradGuard no_grad;
    only_slow->gate->weight.zero_();
    only_slow->gate->bias.copy_(torch::tensor({-5.f, 5.f, -5.f, 5.f}));  // picks ffn.1.1
  }
  EXPECT_THROW(only_slow->forward(torch::randn({1, kHidden})), Error);
}

}  // namespace
}  // namespace hm::client

#include "hm/client/switch_mixture.h"

namespace hm::client {
namespace {

TEST_F(Mixture, SwitchRoutesTopOneAndReturnsAResidualAndABalancingLoss) {
  torch::manual_seed(1);
  auto config = SwitchConfig::defaults(kHidden, {"ffn.", {2, 2}});
  config.mixture.forward_timeout = 10;
  RemoteSwitchMixtureOfExperts layer(config, client);
  layer->eval();  // no jitter, no dropout: comparable with a reference
  auto x = torch::randn({5, kHidden}, torch::requires_grad());
  auto [y, loss] = layer->forward(x);
  ASSERT_EQ(y.sizes(), x.sizes());
  EXPECT_LE(layer->last_stats().experts_asked, 4u);

  // Reference: the top-1 expert of each sample, weighted by the product of
  // its coordinates' softmax probabilities, plus the residual.
  std::map<std::string, std::unique_ptr<moe::ExpertModule>> experts;
  for (const auto& uid : grid_uids()) experts[uid] = moe::make_expert({"ffn", kHidden, {}, {}}, uid, kSeed);
  torch::NoGradGuard no_grad;
  auto logits = layer->gate->forward(x);
  auto p0 = torch::softmax(logits.narrow(1, 0, 2), 1), p1 = torch::softmax(logits.narrow(1, 2, 2), 1);
  for (int64_t s = 0; s < 5; ++s) {
    auto i = logits[s].narrow(0, 0, 2).argmax().item<int64_t>();
    auto j = logits[s].narrow(0, 2, 2).argmax().item<int64_t>();
    auto uid = "ffn." + std::to_string(i) + "." + std::to_string(j);
    auto expected = p0[s][i] * p1[s][j] * experts[uid]->forward({x[s].unsqueeze(0)})[0][0] + x[s];
    EXPECT_LT((y[s] - expected).abs().max().item<float>(), 1e-5) << "sample " << s;
  }
  EXPECT_TRUE(std::isfinite(loss.item<float>()));
  EXPECT_GT(loss.item<float>(), 0.0f);
}

TEST_F(Mixture, SwitchWithFullGridDropoutStillAnswersWithTheResidual) {
  auto config = SwitchConfig::defaults(kHidden, {"ffn.", {2, 2}});
  config.grid_dropout = 1e-9;  // drops (almost) every index: nobody is chosen
  RemoteSwitchMixtureOfExperts layer(config, client);
  layer->train();
  auto x = torch::randn({3, kHidden});
  auto [y, loss] = layer->forward(x);
  EXPECT_LT((y - x).abs().max().item<float>(), 1e-6);
  (y.sum() + loss).backward();
  EXPECT_TRUE(torch::isfinite(layer->gate->weight.grad()).all().item<bool>());
}

}  // namespace
}  // namespace hm::client
