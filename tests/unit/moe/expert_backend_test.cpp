#include "hm/moe/expert_backend.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "hm/base/error.h"
#include "torch_test_util.h"

namespace hm::moe {
namespace {

constexpr int64_t kHidden = 16;
constexpr int64_t kRows = 6;
constexpr uint64_t kSeed = 5;

ExpertArch arch(const std::string& cls) { return {cls, kHidden, {}, {}}; }

std::unique_ptr<ExpertBackend> make_backend(const std::string& cls, OptimizerConfig optimizer,
                                            const std::string& uid = "e.0") {
  const auto a = arch(cls);
  BackendOptions options{
      uid, cls, input_specs(a), *known_output_specs(a), std::move(optimizer), torch::kCPU, 64};
  return std::make_unique<ExpertBackend>(make_expert(a, uid, kSeed), std::move(options));
}

std::vector<torch::Tensor> snapshot(ExpertModule& module) {
  std::vector<torch::Tensor> out;
  for (auto& p : module.parameters()) out.push_back(p.detach().clone());
  return out;
}

std::vector<torch::Tensor> inputs_for(const std::string& cls) {
  torch::manual_seed(11);
  if (cls == "transformer") {
    return {torch::randn({2, 128, kHidden}), torch::rand({2, 128}).gt(0.8)};
  }
  if (cls == "det_dropout") {
    return {torch::randn({kRows, kHidden}),
            torch::rand({kRows, kHidden}).gt(0.2).to(torch::kFloat32)};
  }
  return {torch::randn({kRows, kHidden})};
}

// The reference: the same (seed, uid) built again, differentiated directly.
struct Reference {
  std::unique_ptr<ExpertModule> module;
  std::vector<torch::Tensor> outputs;
  std::vector<torch::Tensor> grad_inputs;  // undefined for non-float inputs
};

Reference reference(const std::string& cls, const std::vector<torch::Tensor>& inputs,
                    const torch::Tensor& grad_output, bool training = true) {
  Reference ref{make_expert(arch(cls), "e.0", kSeed), {}, {}};
  ref.module->train(training);
  std::vector<torch::Tensor> leaves;
  for (const auto& x : inputs) {
    leaves.push_back(x.is_floating_point() ? x.clone().requires_grad_(true) : x);
  }
  ref.outputs = ref.module->forward(leaves);
  ref.outputs[0].backward(grad_output);
  for (const auto& leaf : leaves) ref.grad_inputs.push_back(leaf.grad());
  return ref;
}

class BackwardMatchesAutograd : public ::testing::TestWithParam<const char*> {};

TEST_P(BackwardMatchesAutograd, GradInputsWithin1e5) {
  const std::string cls = GetParam();
  auto backend = make_backend(cls, {"adam", {}, {}});
  const bool training = cls != "transformer";  // dropout would make it random
  backend->module().train(training);
  const auto inputs = inputs_for(cls);
  const auto forward = backend->forward(inputs);
  ASSERT_EQ(forward.size(), 1u);
  EXPECT_FALSE(forward[0].requires_grad());
  const auto grad_output = torch::randn_like(forward[0]);
  const auto ref = reference(cls, inputs, grad_output, training);
  EXPECT_TRUE(torch::allclose(forward[0], ref.outputs[0], 1e-5, 1e-6));

  const auto grads = backend->backward(inputs, {grad_output});
  ASSERT_EQ(grads.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(grads[i].sizes(), inputs[i].sizes());
    EXPECT_EQ(grads[i].scalar_type(), inputs[i].scalar_type());
    if (cls == "det_dropout" && i == 1) {
      EXPECT_TRUE(grads[i].eq(0).all().item<bool>()) << "the mask gets no gradient";
    } else if (!ref.grad_inputs[i].defined()) {
      EXPECT_TRUE(grads[i].eq(0).all().item<bool>()) << "input " << i;
    } else {
      EXPECT_GT(grads[i].abs().sum().item<double>(), 0) << "input " << i;
      EXPECT_LT(test::max_diff(grads[i], ref.grad_inputs[i]), 1e-5) << "input " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, BackwardMatchesAutograd,
                         ::testing::Values("ffn", "det_dropout", "transformer", "nop"));

TEST(ExpertBackend, SgdStepIsWeightMinusLrTimesGrad) {
  auto backend = make_backend("ffn", {"sgd", 0.1, {}});
  const auto inputs = inputs_for("ffn");
  const auto grad_output = torch::randn({kRows, kHidden});
  const auto ref = reference("ffn", inputs, grad_output);
  backend->backward(inputs, {grad_output});
  auto ours = backend->module().named_parameters();
  auto theirs = ref.module->named_parameters();
  ASSERT_EQ(ours.size(), theirs.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    const auto& [name, w] = theirs[i];
    const auto expected = w.detach() - 0.1 * w.grad();
    EXPECT_LT(test::max_diff(ours[i].second, expected), 1e-6) << name;
    EXPECT_FALSE(ours[i].second.grad().defined()) << "gradients are dropped after the step";
  }
  EXPECT_EQ(backend->steps(), 1u);
  EXPECT_EQ(backend->examples_processed(), static_cast<uint64_t>(kRows));
}

TEST(ExpertBackend, AdamChangesTheWeightsAndCountsSteps) {
  auto backend = make_backend("ffn", {"adam", {}, {}});
  const auto before = snapshot(backend->module());
  const auto inputs = inputs_for("ffn");
  backend->backward(inputs, {torch::randn({kRows, kHidden})});
  backend->backward(inputs, {torch::randn({kRows, kHidden})});
  const auto after = snapshot(backend->module());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_FALSE(torch::equal(before[i], after[i]));
  EXPECT_EQ(backend->steps(), 2u);
  EXPECT_EQ(backend->examples_processed(), static_cast<uint64_t>(2 * kRows));
  EXPECT_EQ(backend->describe().steps, 2u);
  ASSERT_NE(backend->optimizer(), nullptr);
}

TEST(ExpertBackend, NoOptimizerChangesNothing) {
  auto backend = make_backend("ffn", {"none", {}, {}});
  EXPECT_EQ(backend->optimizer(), nullptr);
  const auto before = snapshot(backend->module());
  const auto inputs = inputs_for("ffn");
  const auto grad_output = torch::randn({kRows, kHidden});
  const auto grads = backend->backward(inputs, {grad_output});
  const auto after = snapshot(backend->module());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i], after[i]));
  const auto ref = reference("ffn", inputs, grad_output);
  EXPECT_LT(test::max_diff(grads[0], ref.grad_inputs[0]), 1e-5);
}

TEST(ExpertBackend, ClipGradNormBoundsTheUpdate) {
  constexpr double kClip = 1e-3;
  auto backend = make_backend("ffn", {"sgd", 1.0, kClip});
  const auto before = snapshot(backend->module());
  backend->backward(inputs_for("ffn"), {torch::randn({kRows, kHidden}) * 10});
  const auto after = snapshot(backend->module());
  double squared = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    squared += (after[i] - before[i]).to(torch::kFloat64).pow(2).sum().item<double>();
  }
  EXPECT_NEAR(std::sqrt(squared), kClip, kClip * 1e-3);
}

TEST(ExpertBackend, NopGradientIsTheOutputGradient) {
  auto backend = make_backend("nop", {"adam", {}, {}});
  const auto x = torch::randn({kRows, kHidden});
  EXPECT_TRUE(torch::equal(backend->forward({x})[0], x));
  const auto gy = torch::randn({kRows, kHidden});
  EXPECT_TRUE(torch::equal(backend->backward({x}, {gy})[0], gy));
}

TEST(ExpertBackend, DescribesItself) {
  auto backend = make_backend("det_dropout", {"sgd", {}, {}}, "dd.3");
  const auto d = backend->describe();
  EXPECT_EQ(d.uid, "dd.3");
  EXPECT_EQ(d.expert_cls, "det_dropout");
  EXPECT_EQ(d.inputs.size(), 2u);
  EXPECT_EQ(d.outputs, (std::vector<TensorSpec>{{DType::Float32, {-1, kHidden}}}));
  EXPECT_EQ(d.max_batch_size, 64u);
  EXPECT_EQ(d.steps, 0u);
  backend->set_counters(7, 70);
  EXPECT_EQ(backend->describe().examples_processed, 70u);
}

TEST(ExpertBackend, InfersOutputsWhenNotGiven) {
  const auto a = arch("transformer");
  BackendOptions options{"t.0", "transformer", input_specs(a), {}, {}, torch::kCPU, 8};
  ExpertBackend backend(make_expert(a, "t.0", 0), std::move(options));
  EXPECT_EQ(backend.options().outputs, *known_output_specs(a));
}

TEST(ExpertBackend, RefusesBadOptimizerConfigs) {
  try {
    validate(OptimizerConfig{"rmsprop", {}, {}});
    FAIL();
  } catch (const UsageError& error) {
    EXPECT_STREQ(error.what(), "unknown optimizer 'rmsprop' (valid: adam, sgd, none)");
  }
  EXPECT_THROW(validate(OptimizerConfig{"sgd", -1.0, {}}), UsageError);
  EXPECT_THROW(validate(OptimizerConfig{"sgd", {}, 0.0}), UsageError);
  EXPECT_THROW(make_backend("ffn", {"lamb", {}, {}}), UsageError);
}

TEST(ExpertBackendCuda, RunsOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA";
  const auto a = arch("ffn");
  BackendOptions options{"g.0", "ffn", input_specs(a), {}, {"sgd", 0.1, {}}, torch::kCUDA, 64};
  ExpertBackend backend(make_expert(a, "g.0", kSeed), std::move(options));
  const auto inputs = inputs_for("ffn");
  const auto out = backend.forward(inputs);
  EXPECT_TRUE(out[0].is_cuda());
  const auto gy = torch::randn({kRows, kHidden});
  const auto ref = reference("ffn", inputs, gy);
  EXPECT_LT(test::max_diff(out[0].cpu(), ref.outputs[0]), 1e-4);
  EXPECT_LT(test::max_diff(backend.backward(inputs, {gy})[0].cpu(), ref.grad_inputs[0]), 1e-4);
}

}  // namespace
}  // namespace hm::moe
