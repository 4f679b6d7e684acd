#include "hm/client/layer_command.h"

#include <torch/types.h>
#include <torch/utils.h>

#include <fmt/ranges.h>

#include "hm/base/error.h"
#include "hm/base/expert_uid.h"
#include "hm/base/log.h"
#include "hm/client/gate_file.h"
#include "hm/client/mixture.h"
#include "hm/torch/torch_bridge.h"

namespace hm::client {
namespace {

// A float32 copy that autograd may own.
torch::Tensor float_copy(const HostTensor& tensor) {
  return to_torch(tensor).to(torch::kFloat).clone();
}

// Seconds to wait for a DHT peer to answer the join.
constexpr double kJoinTimeoutS = 30;

// The swarm the flags name, compressing requests as --compression says.
std::shared_ptr<discovery::SwarmClient> make_swarm(const LayerFlags& flags) {
  return std::make_shared<discovery::SwarmClient>(flags.dht, kJoinTimeoutS, flags.compression);
}

}  // namespace

MixtureConfig mixture_config(const LayerFlags& flags, int64_t in_features) {
  MixtureConfig config;
  config.in_features = in_features;
  config.grid.prefix = flags.prefix.ends_with('.') ? flags.prefix : flags.prefix + ".";
  config.grid.dims = parse_grid(flags.grid, "--grid");
  config.k_best = flags.k_best;
  config.k_min = flags.k_min;
  if (flags.forward_timeout > 0) config.forward_timeout = flags.forward_timeout;
  if (flags.timeout_after_k_min > 0) config.timeout_after_k_min = flags.timeout_after_k_min;
  config.backward_k_min = flags.backward_k_min;
  if (flags.backward_timeout > 0) config.backward_timeout = flags.backward_timeout;
  config.allow_zero_outputs = flags.allow_zero_outputs;
  config.detect_anomalies = flags.detect_anomalies;
  return config;
}

HostTensor run_layer(const LayerFlags& flags, const HostTensor& input,
                     const std::function<HostTensor()>& output_grad) {
  auto x = float_copy(input);
  torch::manual_seed(flags.seed);
  auto swarm = make_swarm(flags);
  RemoteMixtureOfExperts moe(mixture_config(flags, x.size(-1)), swarm);
  if (!flags.gate.empty()) load_gate(moe->gate, flags.gate);
  if (!flags.save_gate.empty()) save_gate(moe->gate, flags.save_gate);

  const bool backward = static_cast<bool>(output_grad);
  if (backward) x.requires_grad_(true);
  auto y = moe->forward(x);
  const auto& stats = moe->last_stats();
  spdlog::info("{} experts asked, {} answered; beam search {:.1f} ms, calls {:.1f} ms",
               stats.experts_asked, stats.experts_answered, stats.search_seconds * 1e3,
               stats.call_seconds * 1e3);
  if (!backward) return from_torch(y.detach().contiguous());
  auto dy = float_copy(output_grad());
  if (dy.sizes() != y.sizes()) {
    fail("-g: output gradient has shape [{}], the output is [{}]", fmt::join(dy.sizes(), ", "),
         fmt::join(y.sizes(), ", "));
  }
  y.backward(dy);
  return from_torch(x.grad().contiguous());
}

TrainConfig train_config(const LayerFlags& flags) {
  if (flags.trainers < 1) throw UsageError("--trainers must be at least 1");
  if (flags.blocks < 1) throw UsageError("--blocks must be at least 1");
  if (flags.batch_size < 1 || flags.steps < 1) {
    throw UsageError("--batch-size and --steps must be at least 1");
  }
  if (flags.inject_failures < 0 || flags.inject_failures >= 1) {
    throw UsageError("--inject-failures must be in [0, 1)");
  }
  TrainConfig config;
  config.block = mixture_config(flags, flags.hidden_dim);
  config.block.inject_failures = flags.inject_failures;
  config.block.latency_ms = flags.latency_ms;
  config.hidden_dim = flags.hidden_dim;
  config.blocks = flags.blocks;
  config.steps = flags.steps;
  config.batch_size = flags.batch_size;
  config.trainers = flags.trainers;
  config.eval_every = flags.eval_every;
  config.eval_samples = flags.eval_samples;
  config.lr = flags.lr;
  config.seed = flags.seed;
  config.data_dir = flags.data;
  config.save_path = flags.save;
  config.resume_path = flags.resume;
  return config;
}

void train(const LayerFlags& flags, const std::function<void(const Evaluation&)>& on_eval,
           const std::function<void(const Progress&)>& on_progress) {
  auto config = train_config(flags);
  torch::set_num_threads(1);  // the trainers are the parallelism
  auto swarm = make_swarm(flags);
  Trainer trainer(config, swarm);
  trainer.run(on_eval, on_progress);
}

}  // namespace hm::client
