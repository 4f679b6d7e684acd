// The built-in experts against hivemind's own Python definitions (HEAD
// layers/common.py and layers/dropout.py, re-typed below), run by real
// PyTorch 1.13: after torch.manual_seed(expert_seed(seed, uid)) Python must
// build the same weights, and the same inputs must give the same outputs.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <fstream>

#include "hm/moe/expert_layers.h"
#include "torch_test_util.h"

namespace hm::moe {
namespace {

constexpr int64_t kHidden = 32;
constexpr int64_t kBatch = 3;
constexpr uint64_t kSeed = 2024;

constexpr const char* kOracle = R"PY(
import sys, torch
from torch import nn

out_dir, hidden = sys.argv[1], int(sys.argv[2])
seeds = dict(zip(["ffn", "transformer", "det_dropout"], map(int, sys.argv[3:6])))

def gelu_fast(x):
    return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))

class FeedforwardBlock(nn.Module):
    def __init__(self, hid_dim):
        super().__init__()
        self.ffn = nn.Linear(hid_dim, 4 * hid_dim)
        self.ffn_output = nn.Linear(4 * hid_dim, hid_dim)
        self.layer_norm = nn.LayerNorm(hid_dim, eps=1e-12)
    def forward(self, x):
        return self.layer_norm(x + self.ffn_output(gelu_fast(self.ffn(x))))

class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward, dropout=0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
    def forward(self, src, src_key_padding_mask=None):
        src = src.transpose(0, 1)
        src2 = self.self_attn(src, src, src, key_padding_mask=src_key_padding_mask)[0]
        src = self.norm1(src + self.dropout1(src2))
        src2 = self.linear2(self.dropout(gelu_fast(self.linear1(src))))
        src = self.norm2(src + self.dropout2(src2))
        return src.transpose(0, 1)

class DeterministicDropoutNetwork(nn.Module):
    def __init__(self, hid_dim, keep_prob=0.8):
        super().__init__()
        self.linear_in = nn.Linear(hid_dim, 2 * hid_dim)
        self.linear_out = nn.Linear(2 * hid_dim, hid_dim)
        self.keep_prob = keep_prob
    def forward(self, x, mask):
        return self.linear_out(torch.relu(self.linear_in(x * mask / self.keep_prob)))

def save(name, t):
    with open(f"{out_dir}/{name}.bin", "wb") as f:
        f.write(t.detach().float().contiguous().numpy().tobytes())

def dump(kind, module, inputs):
    for name, tensor in module.state_dict().items():
        save(f"{kind}.{name}", tensor)
    with open(f"{out_dir}/{kind}.names", "w") as f:
        f.write("\n".join(module.state_dict().keys()))
    save(f"{kind}.out", module(*inputs))

B = 3
x = torch.linspace(-2, 2, B * hidden).reshape(B, hidden)
torch.manual_seed(seeds["ffn"])
dump("ffn", FeedforwardBlock(hidden), [x])

torch.manual_seed(seeds["transformer"])
layer = TransformerEncoderLayer(hidden, 16, 4 * hidden).eval()
seq = torch.linspace(-1, 1, B * 128 * hidden).reshape(B, 128, hidden)
mask = torch.zeros(B, 128, dtype=torch.bool)
mask[1, 100:] = True
mask[2, 64:] = True
dump("transformer", layer, [seq, mask])

torch.manual_seed(seeds["det_dropout"])
keep = (torch.arange(B * hidden).reshape(B, hidden) % 3 != 0).float()
dump("det_dropout", DeterministicDropoutNetwork(hidden), [x, keep])
)PY";

class ExpertLayersVsPython : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    const std::string args = dir_->path().string() + " " + std::to_string(kHidden) + " " +
                             std::to_string(expert_seed(kSeed, "ffn.4.2")) + " " +
                             std::to_string(expert_seed(kSeed, "transformer.0")) + " " +
                             std::to_string(expert_seed(kSeed, "dd.1"));
    oracle_ok_ = test::run_python(*dir_, kOracle, args) == 0;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  // Every parameter equals Python's, and Python has no others.
  static void expect_same_weights(const std::string& kind, ExpertModule& module) {
    std::ifstream names_file(dir_->file(kind + ".names"));
    std::set<std::string> python_names;
    for (std::string line; std::getline(names_file, line);) python_names.insert(line);
    std::set<std::string> our_names;
    for (auto& [name, tensor] : module.named_parameters()) {
      our_names.insert(name);
      const auto expected =
          test::read_f32(dir_->file(kind + "." + name + ".bin"), tensor.sizes().vec());
      EXPECT_TRUE(torch::allclose(tensor, expected, 1e-6, 1e-7))
          << kind << " " << name << " differs by " << test::max_diff(tensor, expected);
    }
    EXPECT_EQ(our_names, python_names) << kind;
  }

  static torch::Tensor python_output(const std::string& kind, std::vector<int64_t> shape) {
    return test::read_f32(dir_->file(kind + ".out.bin"), std::move(shape));
  }

  static inline test::TempDir* dir_ = nullptr;
  static inline bool oracle_ok_ = false;
};

torch::Tensor hidden_input() {
  return torch::linspace(-2, 2, kBatch * kHidden).reshape({kBatch, kHidden});
}

TEST_F(ExpertLayersVsPython, Ffn) {
  ASSERT_TRUE(oracle_ok_);
  auto module = make_expert({"ffn", kHidden, {}, {}}, "ffn.4.2", kSeed);
  expect_same_weights("ffn", *module);
  const auto out = module->forward({hidden_input()})[0];
  const auto expected = python_output("ffn", {kBatch, kHidden});
  EXPECT_TRUE(torch::allclose(out, expected, 1e-5, 1e-5)) << test::max_diff(out, expected);
}

TEST_F(ExpertLayersVsPython, TransformerInEvalMode) {
  ASSERT_TRUE(oracle_ok_);
  auto module = make_expert({"transformer", kHidden, {}, {}}, "transformer.0", kSeed);
  expect_same_weights("transformer", *module);
  module->train(false);
  const auto seq = torch::linspace(-1, 1, kBatch * 128 * kHidden).reshape({kBatch, 128, kHidden});
  auto mask = torch::zeros({kBatch, 128}, torch::kBool);
  mask.index_put_({1, torch::indexing::Slice(100)}, true);
  mask.index_put_({2, torch::indexing::Slice(64)}, true);
  const auto out = module->forward({seq, mask})[0];
  const auto expected = python_output("transformer", {kBatch, 128, kHidden});
  EXPECT_TRUE(torch::allclose(out, expected, 1e-4, 1e-5)) << test::max_diff(out, expected);
}

TEST_F(ExpertLayersVsPython, DetDropout) {
  ASSERT_TRUE(oracle_ok_);
  auto module = make_expert({"det_dropout", kHidden, {}, {}}, "dd.1", kSeed);
  expect_same_weights("det_dropout", *module);
  const auto keep = torch::arange(kBatch * kHidden)
                        .reshape({kBatch, kHidden})
                        .remainder(3)
                        .ne(0)
                        .to(torch::kFloat32);
  const auto out = module->forward({hidden_input(), keep})[0];
  const auto expected = python_output("det_dropout", {kBatch, kHidden});
  EXPECT_TRUE(torch::allclose(out, expected, 1e-5, 1e-5)) << test::max_diff(out, expected);
}

}  // namespace
}  // namespace hm::moe
