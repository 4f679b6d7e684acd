#include "hm/moe/expert_server_host.h"

#include <torch/utils.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/moe/expert_backend.h"
#include "hm/moe/expert_layers.h"
#include "hm/moe/runtime.h"
#include "hm/moe/task_pool.h"
#include "hm/torch/torch_device.h"

namespace hm::moe {
namespace {

constexpr const char* kShuttingDown = "server shutting down";

struct Expert {
  std::unique_ptr<ExpertBackend> backend;
  std::shared_ptr<TaskPool> forward;
  std::shared_ptr<TaskPool> backward;
};

void validate(const ExpertServerConfig& config) {
  if (config.uids.empty()) throw UsageError("no expert uids to host");
  std::set<std::string_view> seen;
  for (const auto& uid : config.uids) {
    if (!seen.insert(uid).second) throw UsageError(fmt::format("expert uid '{}' given twice", uid));
  }
  if (config.max_batch_size < 1) throw UsageError("max-batch-size must be at least 1");
  if (config.min_batch_size < 1 || config.min_batch_size > config.max_batch_size) {
    throw UsageError(fmt::format("min-batch-size must be between 1 and max-batch-size {}, got {}",
                                 config.max_batch_size, config.min_batch_size));
  }
  if (config.max_wait.count() < 0) throw UsageError("max-wait must not be negative");
}

ExpertArch arch_of(const ExpertServerConfig& config) {
  return {config.expert_cls, config.hidden_dim, config.module_path, config.module_inputs};
}

PoolOptions pool_options(const ExpertServerConfig& config, const std::string& uid,
                         const char* direction) {
  return {fmt::format("{} {}", uid, direction), config.max_batch_size, config.min_batch_size,
          config.max_wait};
}

// Backward pools see the inputs followed by the output gradients.
BatchFn backward_fn(ExpertBackend* backend) {
  const size_t inputs = backend->options().inputs.size();
  return [backend, inputs](const std::vector<torch::Tensor>& all) {
    std::vector<torch::Tensor> in(all.begin(), all.begin() + inputs);
    std::vector<torch::Tensor> grads(all.begin() + inputs, all.end());
    return backend->backward(in, grads);
  };
}

void require_rows(int64_t rows, const char* what) {
  require(rows >= 1, "{}: empty batch (0 rows)", what);
}

}  // namespace

struct ExpertServerHost::Impl {
  std::map<std::string, Expert, std::less<>> experts;
  std::unique_ptr<Runtime> runtime;  // after experts: destroyed first
  std::atomic<bool> stopped{false};

  std::mutex stats_mutex;
  std::vector<PoolCounters> last_counters;  // guarded by stats_mutex, pool order
  Clock::time_point last_report;            // guarded by stats_mutex

  const Expert& find(std::string_view uid) const {
    auto it = experts.find(uid);
    if (it == experts.end()) {
      fail("unknown expert '{}' (this server hosts {} expert{}, e.g. {})", uid, experts.size(),
           experts.size() == 1 ? "" : "s", experts.begin()->first);
    }
    return it->second;
  }

  const Expert& accepting(std::string_view uid) const {
    if (stopped.load()) throw Error(kShuttingDown);
    return find(uid);
  }
};

ExpertServerHost::ExpertServerHost(const ExpertServerConfig& config)
    : impl_(std::make_unique<Impl>()) {
  validate(config);
  const auto arch = arch_of(config);
  validate(arch);
  const OptimizerConfig optimizer{config.optimizer, config.lr, config.clip_grad_norm};
  validate(optimizer);
  const auto device = parse_device(config.device);
  if (config.num_threads > 0) torch::set_num_threads(config.num_threads);

  const auto inputs = input_specs(arch);
  // Built-in kinds know their outputs; a module's come from the first
  // expert's dummy forward and are reused for the rest.
  std::vector<TensorSpec> outputs = known_output_specs(arch).value_or(std::vector<TensorSpec>{});
  auto modules = make_experts(arch, config.uids, config.seed);
  std::vector<std::shared_ptr<TaskPool>> pools;
  for (size_t i = 0; i < config.uids.size(); ++i) {
    const auto& uid = config.uids[i];
    BackendOptions options{uid,    config.expert_cls,    inputs, outputs, optimizer,
                           device, config.max_batch_size};
    auto backend = std::make_unique<ExpertBackend>(std::move(modules[i]), std::move(options));
    if (outputs.empty()) outputs = backend->options().outputs;
    auto* raw = backend.get();
    Expert expert{
        std::move(backend),
        std::make_shared<TaskPool>(
            pool_options(config, uid, "forward"),
            [raw](const std::vector<torch::Tensor>& in) { return raw->forward(in); }),
        std::make_shared<TaskPool>(pool_options(config, uid, "backward"), backward_fn(raw))};
    pools.push_back(expert.forward);
    pools.push_back(expert.backward);
    impl_->experts.emplace(uid, std::move(expert));
  }
  // Pool order for stats: sorted by uid, forward then backward.
  for (const auto& [uid, expert] : impl_->experts) {
    (void)uid;
    impl_->last_counters.push_back(expert.forward->counters());
    impl_->last_counters.push_back(expert.backward->counters());
  }
  impl_->last_report = Clock::now();
  impl_->runtime =
      std::make_unique<Runtime>(fmt::format("runtime {}", device.str()), std::move(pools));
  impl_->runtime->start();
  spdlog::debug("hosting {} {} expert(s) on {}", config.uids.size(), config.expert_cls,
               device.str());
}

ExpertServerHost::~ExpertServerHost() { stop(); }

void ExpertServerHost::stop() {
  impl_->stopped.store(true);
  if (impl_->runtime) impl_->runtime->stop();
}

std::vector<std::string> ExpertServerHost::uids() const {
  std::vector<std::string> out;
  out.reserve(impl_->experts.size());
  for (const auto& [uid, expert] : impl_->experts) out.push_back(uid);
  return out;
}

std::optional<ExpertDescription> ExpertServerHost::describe(std::string_view uid) const {
  auto it = impl_->experts.find(uid);
  if (it == impl_->experts.end()) return std::nullopt;
  return it->second.backend->describe();
}

void ExpertServerHost::submit_forward(std::string_view uid, std::vector<HostTensor> inputs,
                                      TaskDone done) {
  const auto& expert = impl_->accepting(uid);
  const auto rows = check_tensors(expert.backend->options().inputs, inputs, "forward inputs");
  require_rows(rows, "forward inputs");
  expert.forward->submit(std::move(inputs), rows, std::move(done));
}

void ExpertServerHost::submit_backward(std::string_view uid,
                                       std::vector<HostTensor> inputs_and_grads, TaskDone done) {
  const auto& expert = impl_->accepting(uid);
  const auto& options = expert.backend->options();
  const size_t n_in = options.inputs.size();
  const size_t n_out = options.outputs.size();
  require(inputs_and_grads.size() == n_in + n_out,
          "backward inputs: expected {} tensors ({} input{} and {} output gradient{}), got {}",
          n_in + n_out, n_in, n_in == 1 ? "" : "s", n_out, n_out == 1 ? "" : "s",
          inputs_and_grads.size());
  const std::span<const HostTensor> all(inputs_and_grads);
  const auto rows = check_tensors(options.inputs, all.first(n_in), "backward inputs");
  const auto grad_rows = check_tensors(options.outputs, all.subspan(n_in), "backward grad_outputs");
  require(rows == grad_rows, "backward: batch sizes differ: {} (inputs) vs {} (grad_outputs)", rows,
          grad_rows);
  require_rows(rows, "backward inputs");
  expert.backward->submit(std::move(inputs_and_grads), rows, std::move(done));
}

std::vector<std::string> ExpertServerHost::stats_report() {
  std::lock_guard lock(impl_->stats_mutex);
  const auto now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - impl_->last_report).count();
  impl_->last_report = now;
  std::vector<std::string> lines;
  size_t index = 0;
  for (const auto& [uid, expert] : impl_->experts) {
    (void)uid;
    for (const auto* pool : {expert.forward.get(), expert.backward.get()}) {
      const auto counters = pool->counters();
      auto& last = impl_->last_counters[index++];
      if (counters.batches != last.batches) {
        lines.push_back(format_pool_report(pool->options().name, last, counters, seconds));
      }
      last = counters;
    }
  }
  return lines;
}

ExpertBackend* ExpertServerHost::backend(std::string_view uid) {
  auto it = impl_->experts.find(uid);
  return it == impl_->experts.end() ? nullptr : it->second.backend.get();
}

}  // namespace hm::moe
