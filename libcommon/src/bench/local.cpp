#include "hm/bench/local.h"

#include <torch/types.h>

#include "hm/base/error.h"
#include "hm/bench/stats.h"
#include "hm/bench/workload.h"
#include "hm/moe/expert_backend.h"
#include "hm/moe/expert_layers.h"
#include "hm/torch/torch_bridge.h"
#include "hm/torch/torch_device.h"

namespace hm::bench {
namespace {

std::vector<torch::Tensor> to_torch_all(const std::vector<HostTensor>& tensors) {
  std::vector<torch::Tensor> out;
  for (const auto& t : tensors) out.push_back(to_torch(t));
  return out;
}

void to_cpu(const std::vector<torch::Tensor>& outputs) {
  for (const auto& t : outputs) (void)t.to(torch::kCPU).contiguous();
}

}  // namespace

struct LocalRunner::Impl {
  ThroughputParams params;
  size_t warmup = 0;
  double experts_s = 0, experts_cpu_s = 0;
  std::vector<std::unique_ptr<moe::ExpertBackend>> backends;
  std::vector<std::vector<torch::Tensor>> inputs, grads;
  std::vector<std::vector<size_t>> schedules;

  void run_batch(size_t c, size_t b) {
    auto& backend = *backends[schedules[c][b]];
    to_cpu(backend.forward(inputs[c]));
    if (params.backprop) to_cpu(backend.backward(inputs[c], grads[c]));
  }
};

LocalRunner::LocalRunner(const ThroughputParams& params, size_t warmup, uint64_t seed)
    : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.params = params;
  m.warmup = warmup;
  const double t0 = monotonic_seconds();
  const double cpu0 = cpu_seconds();
  moe::ExpertArch arch;
  arch.expert_cls = params.expert_cls;
  arch.hidden_dim = params.hidden_dim;
  const auto device = parse_device(params.device);
  std::vector<std::string> uids;
  for (size_t i = 0; i < params.experts; ++i) uids.push_back(bench_uid(i));
  auto modules = moe::make_experts(arch, uids, 0);
  const auto inputs_spec = moe::input_specs(arch);
  const auto outputs_spec = moe::known_output_specs(arch).value_or(std::vector<TensorSpec>{});
  for (size_t i = 0; i < params.experts; ++i) {
    moe::BackendOptions options{uids[i], params.expert_cls, inputs_spec, outputs_spec,
                                moe::OptimizerConfig{}, device, params.max_batch_size};
    m.backends.push_back(std::make_unique<moe::ExpertBackend>(std::move(modules[i]), options));
  }
  for (size_t c = 0; c < params.clients; ++c) {
    m.inputs.push_back(to_torch_all(
        client_inputs(params.expert_cls, params.hidden_dim, params.batch_size, seed, c)));
    m.grads.push_back(params.backprop ? to_torch_all(output_grads(params.expert_cls,
                                                                  params.hidden_dim,
                                                                  params.batch_size))
                                      : std::vector<torch::Tensor>{});
    m.schedules.push_back(
        expert_schedule(seed, c, warmup + params.batches_per_client, params.experts));
  }
  m.experts_s = monotonic_seconds() - t0;
  m.experts_cpu_s = cpu_seconds() - cpu0;
  for (size_t b = 0; b < warmup; ++b) {
    for (size_t c = 0; c < params.clients; ++c) m.run_batch(c, b);
  }
}

LocalRunner::~LocalRunner() = default;

double LocalRunner::experts_s() const { return impl_->experts_s; }
double LocalRunner::experts_cpu_s() const { return impl_->experts_cpu_s; }

LocalResult LocalRunner::run(const std::function<void()>& batch_done) {
  auto& m = *impl_;
  LocalResult result;
  result.experts_s = m.experts_s;
  result.experts_cpu_s = m.experts_cpu_s;
  const double start = monotonic_seconds();
  const double cpu0 = cpu_seconds();
  for (size_t b = 0; b < m.params.batches_per_client; ++b) {
    for (size_t c = 0; c < m.params.clients; ++c) {
      m.run_batch(c, m.warmup + b);
      result.samples += m.params.batch_size;
      if (batch_done) batch_done();
    }
  }
  result.elapsed_s = monotonic_seconds() - start;
  result.cpu_s = cpu_seconds() - cpu0;
  return result;
}

LocalResult run_local(const ThroughputParams& params, size_t warmup, uint64_t seed,
                      const std::function<void()>& batch_done) {
  LocalRunner runner(params, warmup, seed);
  return runner.run(batch_done);
}

}  // namespace hm::bench
