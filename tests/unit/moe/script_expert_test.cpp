// Kind "module": TorchScript files saved by PyTorch 1.13 (HM_PYTHON), loaded
// here and compared with the outputs and gradients Python computed.
#include <gtest/gtest.h>
#include <torch/types.h>

#include "hm/base/error.h"
#include "hm/moe/expert_backend.h"
#include "hm/moe/expert_layers.h"
#include "hm/moe/expert_server_host.h"
#include "hm/torch/torch_bridge.h"
#include "torch_test_util.h"

namespace hm::moe {
namespace {

constexpr const char* kOracle = R"PY(
import sys, torch
out = sys.argv[1]

def save(name, t):
    with open(f"{out}/{name}.bin", "wb") as f:
        f.write(t.detach().float().contiguous().numpy().tobytes())

class LinearTanh(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 4)
    def forward(self, x):
        return torch.tanh(self.lin(x))

torch.manual_seed(0)
m = torch.jit.script(LinearTanh())
m.save(f"{out}/linear_tanh.pt")
x = torch.linspace(-1, 1, 5 * 8).reshape(5, 8).requires_grad_()
gy = torch.linspace(0.5, -0.5, 5 * 4).reshape(5, 4)
y = m(x)
y.backward(gy)
save("y", y); save("gx", x.grad)
save("weight", m.lin.weight); save("weight_grad", m.lin.weight.grad)
save("bias", m.lin.bias); save("bias_grad", m.lin.bias.grad)

class TwoInTwoOut(torch.nn.Module):
    def forward(self, a, b):
        return a + b[:, :3], b * 2.0

torch.jit.script(TwoInTwoOut()).save(f"{out}/two.pt")
)PY";

class ScriptExpert : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    oracle_ok_ = test::run_python(*dir_, kOracle, dir_->path().string()) == 0;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static torch::Tensor ref(const std::string& name, std::vector<int64_t> shape) {
    return test::read_f32(dir_->file(name + ".bin"), std::move(shape));
  }
  static ExpertArch linear_tanh() { return {"module", 8, dir_->file("linear_tanh.pt"), {}}; }

  static inline test::TempDir* dir_ = nullptr;
  static inline bool oracle_ok_ = false;
};

TEST_F(ScriptExpert, ForwardBackwardAndStepMatchPyTorch) {
  ASSERT_TRUE(oracle_ok_);
  const auto arch = linear_tanh();
  BackendOptions options{"m.0", "module", input_specs(arch), {}, {"sgd", 0.1, {}}, torch::kCPU, 16};
  ExpertBackend backend(make_expert(arch, "m.0", 0), std::move(options));
  EXPECT_EQ(backend.options().outputs, (std::vector<TensorSpec>{{DType::Float32, {-1, 4}}}));

  const auto x = torch::linspace(-1, 1, 5 * 8).reshape({5, 8});
  const auto gy = torch::linspace(0.5, -0.5, 5 * 4).reshape({5, 4});
  EXPECT_LT(test::max_diff(backend.forward({x})[0], ref("y", {5, 4})), 1e-6);
  const auto gx = backend.backward({x}, {gy});
  EXPECT_LT(test::max_diff(gx[0], ref("gx", {5, 8})), 1e-6);

  std::map<std::string, torch::Tensor> params;
  for (auto& [name, tensor] : backend.module().named_parameters()) params[name] = tensor;
  ASSERT_EQ(params.size(), 2u);
  EXPECT_LT(test::max_diff(params["lin.weight"],
                           ref("weight", {4, 8}) - 0.1 * ref("weight_grad", {4, 8})),
            1e-6);
  EXPECT_LT(test::max_diff(params["lin.bias"], ref("bias", {4}) - 0.1 * ref("bias_grad", {4})),
            1e-6);
  EXPECT_EQ(backend.steps(), 1u);
}

TEST_F(ScriptExpert, ExplicitInputSpecsAndTupleOutputs) {
  ASSERT_TRUE(oracle_ok_);
  const ExpertArch arch{
      "module", 8, dir_->file("two.pt"), {{DType::Float32, {-1, 3}}, {DType::Float32, {-1, 6}}}};
  BackendOptions options{"two.0",     "module", input_specs(arch), {}, {"none", {}, {}},
                         torch::kCPU, 16};
  ExpertBackend backend(make_expert(arch, "two.0", 0), std::move(options));
  EXPECT_EQ(backend.options().outputs,
            (std::vector<TensorSpec>{{DType::Float32, {-1, 3}}, {DType::Float32, {-1, 6}}}));
  const auto a = torch::randn({2, 3});
  const auto b = torch::randn({2, 6});
  const auto out = backend.forward({a, b});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(torch::allclose(out[0], a + b.slice(1, 0, 3)));
  const auto grads = backend.backward({a, b}, {torch::ones({2, 3}), torch::ones({2, 6})});
  EXPECT_TRUE(torch::allclose(grads[0], torch::ones({2, 3})));
  // b feeds both outputs: 1 (first three columns, via a + b[:, :3]) + 2.
  auto expected_b = torch::full({2, 6}, 2.0);
  expected_b.slice(1, 0, 3).add_(1.0);
  EXPECT_TRUE(torch::allclose(grads[1], expected_b));
}

TEST_F(ScriptExpert, ServedByTheHost) {
  ASSERT_TRUE(oracle_ok_);
  ExpertServerConfig config;
  config.uids = {"m.0", "m.1"};
  config.expert_cls = "module";
  config.hidden_dim = 8;
  config.module_path = dir_->file("linear_tanh.pt");
  ExpertServerHost host(config);
  const auto description = host.describe("m.1");
  ASSERT_TRUE(description.has_value());
  EXPECT_EQ(description->outputs, (std::vector<TensorSpec>{{DType::Float32, {-1, 4}}}));
  test::Outcome outcome;
  host.submit_forward("m.1", {from_torch(torch::linspace(-1, 1, 5 * 8).reshape({5, 8}))},
                      outcome.done());
  const auto result = outcome.get();
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_LT(test::max_diff(to_torch(result.outputs.at(0)), ref("y", {5, 4})), 1e-6);
}

TEST_F(ScriptExpert, UnreadableFileIsAClearError) {
  const ExpertArch arch{"module", 8, dir_->file("missing.pt"), {}};
  try {
    make_expert(arch, "m.0", 0);
    FAIL() << "expected hm::Error";
  } catch (const Error& error) {
    const std::string what = error.what();
    EXPECT_EQ(what.rfind("cannot load TorchScript module '" + arch.module_path + "': ", 0), 0u)
        << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST_F(ScriptExpert, InputSpecsNeedABatchDimension) {
  const ExpertArch fixed{"module", 8, "x.pt", {{DType::Float32, {4, 8}}}};
  EXPECT_THROW(validate(fixed), UsageError);
  const ExpertArch ragged{"module", 8, "x.pt", {{DType::Float32, {-1, -1}}}};
  EXPECT_THROW(validate(ragged), UsageError);
}

}  // namespace
}  // namespace hm::moe
