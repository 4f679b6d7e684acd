#include "hm/moe/expert_layers.h"

#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <thread>

#include "hm/base/error.h"
#include "torch_test_util.h"

namespace hm::moe {
namespace {

constexpr int64_t kHidden = 32;

ExpertArch arch(std::string cls, int64_t hidden = kHidden) {
  return {std::move(cls), hidden, {}, {}};
}

std::map<std::string, torch::Tensor> params_of(ExpertModule& module) {
  std::map<std::string, torch::Tensor> out;
  for (auto& [name, tensor] : module.named_parameters()) out[name] = tensor;
  return out;
}

bool same_weights(ExpertModule& a, ExpertModule& b) {
  auto pa = params_of(a), pb = params_of(b);
  if (pa.size() != pb.size()) return false;
  for (auto& [name, tensor] : pa) {
    if (!pb.count(name) || !torch::equal(tensor, pb[name])) return false;
  }
  return true;
}

TEST(ExpertLayers, Fnv1aMatchesTheReferenceVectors) {
  EXPECT_EQ(fnv1a_64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a_64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a_64("foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(expert_seed(42, "ffn.0.1"), 42ULL ^ fnv1a_64("ffn.0.1"));
}

TEST(ExpertLayers, ListsEveryClass) {
  std::vector<std::string> names(expert_classes().begin(), expert_classes().end());
  EXPECT_EQ(names, (std::vector<std::string>{"ffn", "transformer", "det_dropout", "nop",
                                             "nop_delay", "module"}));
}

TEST(ExpertLayers, UnknownClassListsTheValidOnes) {
  try {
    make_expert(arch("mlp"), "x.0", 0);
    FAIL() << "expected UsageError";
  } catch (const UsageError& error) {
    EXPECT_STREQ(error.what(),
                 "unknown expert class 'mlp' (valid: ffn, transformer, det_dropout, nop, "
                 "nop_delay, module)");
  }
}

TEST(ExpertLayers, TransformerNeedsHiddenDivisibleBy16) {
  try {
    validate(arch("transformer", 100));
    FAIL() << "expected UsageError";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("divisible by 16"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("100"), std::string::npos);
  }
  EXPECT_NO_THROW(validate(arch("transformer", 48)));
  EXPECT_THROW(validate(arch("ffn", 0)), UsageError);
  EXPECT_THROW(validate(arch("module")), UsageError);  // no path
}

TEST(ExpertLayers, SpecsFollowHivemind) {
  using Specs = std::vector<TensorSpec>;
  EXPECT_EQ(input_specs(arch("ffn")), (Specs{{DType::Float32, {-1, kHidden}}}));
  EXPECT_EQ(input_specs(arch("transformer")),
            (Specs{{DType::Float32, {-1, 128, kHidden}}, {DType::Bool, {-1, 128}}}));
  EXPECT_EQ(input_specs(arch("det_dropout")),
            (Specs{{DType::Float32, {-1, kHidden}}, {DType::Float32, {-1, kHidden}}}));
  EXPECT_EQ(*known_output_specs(arch("transformer")),
            (Specs{{DType::Float32, {-1, 128, kHidden}}}));
  ExpertArch module{"module", 7, "/nonexistent.pt", {}};
  EXPECT_EQ(input_specs(module), (Specs{{DType::Float32, {-1, 7}}}));
  EXPECT_FALSE(known_output_specs(module).has_value());
}

// Runs one dummy forward per built-in kind: the known output specs must be
// what the network really returns.
class EveryBuiltin : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryBuiltin, KnownOutputSpecsMatchADummyForward) {
  const auto a = arch(GetParam());
  auto module = make_expert(a, "x.0", 1);
  EXPECT_EQ(infer_output_specs(*module, input_specs(a)), *known_output_specs(a));
}

INSTANTIATE_TEST_SUITE_P(Kinds, EveryBuiltin,
                         ::testing::Values("ffn", "transformer", "det_dropout", "nop",
                                           "nop_delay"));

TEST(ExpertLayers, ForwardShapes) {
  auto ffn = make_expert(arch("ffn"), "ffn.0", 0);
  EXPECT_EQ(ffn->forward({torch::randn({5, kHidden})})[0].sizes().vec(),
            (std::vector<int64_t>{5, kHidden}));
  auto transformer = make_expert(arch("transformer"), "t.0", 0);
  const auto out =
      transformer->forward({torch::randn({2, 128, kHidden}), torch::zeros({2, 128}, torch::kBool)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].sizes().vec(), (std::vector<int64_t>{2, 128, kHidden}));
  auto dd = make_expert(arch("det_dropout"), "d.0", 0);
  EXPECT_EQ(dd->forward({torch::randn({4, kHidden}), torch::ones({4, kHidden})})[0].sizes().vec(),
            (std::vector<int64_t>{4, kHidden}));
}

TEST(ExpertLayers, ParameterNamesMatchPyTorchStateDicts) {
  auto ffn = make_expert(arch("ffn"), "ffn.0", 0);
  auto params = params_of(*ffn);
  std::vector<std::string> names;
  for (auto& [name, tensor] : params) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"ffn.bias", "ffn.weight", "ffn_output.bias",
                                             "ffn_output.weight", "layer_norm.bias",
                                             "layer_norm.weight"}));
  EXPECT_EQ(params["ffn.weight"].sizes().vec(), (std::vector<int64_t>{4 * kHidden, kHidden}));
  EXPECT_EQ(params["ffn_output.weight"].sizes().vec(),
            (std::vector<int64_t>{kHidden, 4 * kHidden}));
  auto nop = make_expert(arch("nop"), "nop.0", 0);
  ASSERT_EQ(nop->parameters().size(), 1u);
  EXPECT_EQ(nop->parameters()[0].numel(), 0);
}

TEST(ExpertLayers, SameSeedAndUidGiveTheSameWeights) {
  for (const char* cls : {"ffn", "transformer", "det_dropout"}) {
    auto a = make_expert(arch(cls), "e.1.2", 7);
    torch::manual_seed(12345);  // torch's global generator must not matter
    std::unique_ptr<ExpertModule> b;
    std::thread([&] { b = make_expert(arch(cls), "e.1.2", 7); }).join();
    EXPECT_TRUE(same_weights(*a, *b)) << cls;
    auto other_uid = make_expert(arch(cls), "e.1.3", 7);
    EXPECT_FALSE(same_weights(*a, *other_uid)) << cls;
    auto other_seed = make_expert(arch(cls), "e.1.2", 8);
    EXPECT_FALSE(same_weights(*a, *other_seed)) << cls;
  }
}

TEST(ExpertLayers, NopReturnsItsInputExactly) {
  auto nop = make_expert(arch("nop"), "nop.0", 0);
  const auto x = torch::randn({3, kHidden});
  const auto y = nop->forward({x})[0];
  EXPECT_TRUE(torch::equal(x, y));
  EXPECT_NE(x.data_ptr(), y.data_ptr());
}

TEST(ExpertLayers, NopDelaySleepsHalfASecond) {
  auto nop = make_expert(arch("nop_delay"), "nop.0", 0);
  const auto x = torch::randn({2, kHidden});
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(torch::equal(nop->forward({x})[0], x));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(490));
}

TEST(ExpertLayers, DetDropoutScalesByTheMask) {
  auto dd = make_expert(arch("det_dropout"), "d.0", 3);
  const auto x = torch::randn({4, kHidden});
  const auto mask = torch::bernoulli(torch::full({4, kHidden}, 0.8));
  auto params = params_of(*dd);
  const auto hidden = torch::relu(
      torch::linear(x * mask / 0.8, params["linear_in.weight"], params["linear_in.bias"]));
  const auto expected =
      torch::linear(hidden, params["linear_out.weight"], params["linear_out.bias"]);
  EXPECT_TRUE(torch::allclose(dd->forward({x, mask})[0], expected, 1e-5, 1e-6));
}

}  // namespace
}  // namespace hm::moe
