// The built-in networks. Each layer initialises its parameters itself, from
// the expert's private generator, with torch.nn's default distributions and
// in torch.nn's order (so Python can rebuild the same weights).
#include "builtin_experts.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/normalization.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "hm/base/expert_kinds.h"
#include "huge_pages.h"
#include "seeded_uniform.h"

namespace hm::moe::detail {
namespace {

namespace F = torch::nn::functional;

constexpr int64_t kTransformerHeads = 16;
constexpr int64_t kTransformerSeqLen = 128;
constexpr double kTransformerDropout = 0.1;
constexpr double kDetDropoutProb = 0.2;

// U(-bound, bound) as torch's Tensor::uniform_ draws it (seeded_uniform.h).
torch::Tensor uniform(std::vector<int64_t> shape, double bound, at::mt19937& gen) {
  auto out = torch::empty(shape, torch::kFloat32);
  advise_huge_pages(out.data_ptr(), out.nbytes());
  fill_uniform(out.data_ptr<float>(), out.numel(), bound, gen);
  return out;
}

// torch.nn.Linear: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)), weight first.
class SeededLinearImpl : public torch::nn::Module {
 public:
  SeededLinearImpl(int64_t in, int64_t out, at::mt19937& gen) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    weight = register_parameter("weight", uniform({out, in}, bound, gen));
    bias = register_parameter("bias", uniform({out}, bound, gen));
  }
  torch::Tensor forward(const torch::Tensor& x) { return torch::linear(x, weight, bias); }

  torch::Tensor weight, bias;
};
TORCH_MODULE(SeededLinear);

torch::nn::LayerNorm layer_norm(int64_t h, double eps = 1e-5) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({h}).eps(eps));
}

torch::Tensor gelu_tanh(const torch::Tensor& x) { return torch::gelu(x, "tanh"); }

// A built-in network: a torch::nn::Module with a list-of-tensors forward.
class Net : public torch::nn::Module {
 public:
  virtual std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& inputs) = 0;
};

// ExpertModule over a Net.
class NetExpert final : public ExpertModule {
 public:
  explicit NetExpert(std::shared_ptr<Net> net) : net_(std::move(net)) {}

  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& inputs) override {
    return net_->run(inputs);
  }
  std::vector<torch::Tensor> parameters() override { return net_->parameters(); }
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() override {
    return pairs(net_->named_parameters());
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_buffers() override {
    return pairs(net_->named_buffers());
  }
  void to(torch::Device device) override { net_->to(device); }
  void train(bool on) override { net_->train(on); }

 private:
  static std::vector<std::pair<std::string, torch::Tensor>> pairs(
      const torch::OrderedDict<std::string, torch::Tensor>& dict) {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    out.reserve(dict.size());
    for (const auto& item : dict) out.emplace_back(item.key(), item.value());
    return out;
  }

  std::shared_ptr<Net> net_;
};

class Feedforward final : public Net {
 public:
  Feedforward(int64_t h, at::mt19937& gen)
      : ffn_(register_module("ffn", SeededLinear(h, 4 * h, gen))),
        ffn_output_(register_module("ffn_output", SeededLinear(4 * h, h, gen))),
        layer_norm_(register_module("layer_norm", layer_norm(h, 1e-12))) {}

  std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& in) override {
    const auto& x = in.at(0);
    return {layer_norm_(x + ffn_output_(gelu_tanh(ffn_(x))))};
  }

 private:
  SeededLinear ffn_, ffn_output_;
  torch::nn::LayerNorm layer_norm_;
};

// torch.nn.MultiheadAttention's parameters and initialisation: out_proj is a
// Linear (drawn first), then in_proj_weight ~ xavier_uniform, biases zero.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t h, at::mt19937& gen)
      : out_proj(register_module("out_proj", SeededLinear(h, h, gen))) {
    const double xavier = std::sqrt(6.0 / static_cast<double>(h + 3 * h));
    in_proj_weight = register_parameter("in_proj_weight", uniform({3 * h, h}, xavier, gen));
    in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * h}));
    torch::NoGradGuard no_grad;
    out_proj->bias.zero_();
  }

  // x: [S, B, h]; padding: [B, S] bool, true = ignore that key.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& padding) {
    const int64_t h = x.size(-1);
    auto options =
        F::MultiheadAttentionForwardFuncOptions(
            h, kTransformerHeads, in_proj_weight, in_proj_bias, {}, {},
            /*add_zero_attn=*/false, kTransformerDropout, out_proj->weight, out_proj->bias)
            .training(is_training())
            .key_padding_mask(padding)
            .need_weights(false);
    return std::get<0>(F::multi_head_attention_forward(x, x, x, options));
  }

  SeededLinear out_proj;
  torch::Tensor in_proj_weight, in_proj_bias;
};
TORCH_MODULE(SelfAttention);

class Transformer final : public Net {
 public:
  Transformer(int64_t h, at::mt19937& gen)
      : self_attn_(register_module("self_attn", SelfAttention(h, gen))),
        linear1_(register_module("linear1", SeededLinear(h, 4 * h, gen))),
        linear2_(register_module("linear2", SeededLinear(4 * h, h, gen))),
        norm1_(register_module("norm1", layer_norm(h))),
        norm2_(register_module("norm2", layer_norm(h))) {}

  std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& in) override {
    auto x = in.at(0).transpose(0, 1);  // [B, S, h] -> [S, B, h]
    x = norm1_(x + dropout(self_attn_(x, in.at(1))));
    x = norm2_(x + dropout(linear2_(dropout(gelu_tanh(linear1_(x))))));
    return {x.transpose(0, 1)};
  }

 private:
  torch::Tensor dropout(const torch::Tensor& x) {
    return F::dropout(x, F::DropoutFuncOptions().p(kTransformerDropout).training(is_training()));
  }

  SelfAttention self_attn_;
  SeededLinear linear1_, linear2_;
  torch::nn::LayerNorm norm1_, norm2_;
};

// The mask is an input, not a random draw, so forward and backward agree; it
// gets no gradient (hivemind's DeterministicDropoutFunction returns None).
class DetDropout final : public Net {
 public:
  DetDropout(int64_t h, at::mt19937& gen)
      : linear_in_(register_module("linear_in", SeededLinear(h, 2 * h, gen))),
        linear_out_(register_module("linear_out", SeededLinear(2 * h, h, gen))) {}

  std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& in) override {
    auto x = in.at(0);
    if (is_training()) x = x * in.at(1).detach() / (1.0 - kDetDropoutProb);
    return {linear_out_(torch::relu(linear_in_(x)))};
  }

 private:
  SeededLinear linear_in_, linear_out_;
};

// One empty parameter, as hivemind's, so optimizers have something to hold.
class Nop final : public Net {
 public:
  explicit Nop(std::chrono::milliseconds delay) : delay_(delay) {
    register_parameter("w", torch::zeros({0}));
  }

  std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& in) override {
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    return {in.at(0).clone()};
  }

 private:
  std::chrono::milliseconds delay_;
};

template <typename T, typename... Args>
std::unique_ptr<ExpertModule> make_net(Args&&... args) {
  return std::make_unique<NetExpert>(std::make_shared<T>(std::forward<Args>(args)...));
}

std::vector<TensorSpec> hidden_specs(int64_t h) { return {{DType::Float32, {-1, h}}}; }

std::vector<TensorSpec> sequence_specs(int64_t h) {
  return {{DType::Float32, {-1, kTransformerSeqLen, h}}};
}

std::vector<TensorSpec> transformer_inputs(int64_t h) {
  return {{DType::Float32, {-1, kTransformerSeqLen, h}}, {DType::Bool, {-1, kTransformerSeqLen}}};
}

std::vector<TensorSpec> det_dropout_inputs(int64_t h) {
  return {{DType::Float32, {-1, h}}, {DType::Float32, {-1, h}}};
}

// `name`, which must be one of hm/base/expert_kinds.h's (else this does not
// compile): the kinds are listed there, once.
consteval std::string_view listed(std::string_view name) {
  for (auto kind : kBuiltinExpertKinds) {
    if (kind == name) return kind;
  }
  throw "not a kind of hm::kBuiltinExpertKinds";
}

const BuiltinKind kBuiltins[] = {
    {listed("ffn"), hidden_specs, hidden_specs,
     [](int64_t h, at::mt19937& gen) { return make_net<Feedforward>(h, gen); }},
    {listed("transformer"), transformer_inputs, sequence_specs,
     [](int64_t h, at::mt19937& gen) { return make_net<Transformer>(h, gen); }},
    {listed("det_dropout"), det_dropout_inputs, hidden_specs,
     [](int64_t h, at::mt19937& gen) { return make_net<DetDropout>(h, gen); }},
    {listed("nop"), hidden_specs, hidden_specs,
     [](int64_t, at::mt19937&) { return make_net<Nop>(std::chrono::milliseconds(0)); }},
    {listed("nop_delay"), hidden_specs, hidden_specs,
     [](int64_t, at::mt19937&) { return make_net<Nop>(std::chrono::milliseconds(500)); }},
};
static_assert(std::size(kBuiltins) == kBuiltinExpertKinds.size(),
              "every kind of hm/base/expert_kinds.h needs a row here");

}  // namespace

std::span<const BuiltinKind> builtin_kinds() { return kBuiltins; }

const BuiltinKind* find_builtin(std::string_view name) {
  for (const auto& kind : kBuiltins) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

}  // namespace hm::moe::detail
