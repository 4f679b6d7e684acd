#include "hm/moe/expert_server_host.h"

#include <torch/utils.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/moe/checkpoint.h"
#include "hm/moe/checkpointer.h"
#include "hm/moe/expert_backend.h"
#include "hm/moe/expert_layers.h"
#include "hm/moe/runtime.h"
#include "hm/moe/task_pool.h"
#include "hm/torch/torch_device.h"

namespace hm::moe {
namespace {

constexpr const char* kShuttingDown = "server shutting down";
// Longest checkpoint file name: NAME_MAX (255) less ".tmp" / ".corrupt".
constexpr size_t kMaxCheckpointName = 240;

struct Expert {
  std::unique_ptr<ExpertBackend> backend;
  std::shared_ptr<TaskPool> forward;
  std::shared_ptr<TaskPool> backward;
};

void validate(const ExpertServerConfig& config) {
  if (config.uids.empty() && config.checkpoint_dir.empty()) {
    throw UsageError("no expert uids to host");
  }
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
  if (config.checkpoint_every.count() < 0) {
    throw UsageError("checkpoint-every must not be negative");
  }
}

// The uids to host: the configured ones, then those with a checkpoint.
std::vector<std::string> hosted_uids(const ExpertServerConfig& config,
                                     const std::map<std::string, std::string>& checkpoints) {
  std::vector<std::string> uids = config.uids;
  const std::set<std::string> requested(uids.begin(), uids.end());
  for (const auto& [uid, path] : checkpoints) {
    if (!requested.contains(uid)) uids.push_back(uid);
  }
  if (uids.empty()) {
    throw UsageError(
        fmt::format("no expert uids to host (and no checkpoints in {})", config.checkpoint_dir));
  }
  if (!config.checkpoint_dir.empty()) {
    for (const auto& uid : uids) {
      const auto name = checkpoint_file_name(uid);
      if (name.size() > kMaxCheckpointName) {
        throw UsageError(fmt::format(
            "expert uid '{}' is too long for a checkpoint file name ({} bytes, at most {})", uid,
            name.size(), kMaxCheckpointName));
      }
    }
  }
  return uids;
}

ExpertArch arch_of(const ExpertServerConfig& config) {
  return {config.expert_cls, config.hidden_dim, config.module_path, config.module_inputs};
}

PoolOptions pool_options(const ExpertServerConfig& config, const std::string& uid,
                         const char* direction) {
  return {fmt::format("{} {}", uid, direction), config.max_batch_size, config.min_batch_size,
          config.max_wait, uid, direction};
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
  std::unique_ptr<Runtime> runtime;            // after experts: destroyed first
  std::unique_ptr<Checkpointer> checkpointer;  // after runtime: destroyed before it
  std::string checkpoint_dir;
  std::atomic<bool> stopped{false};
  bool final_checkpoint_done = false;  // the controlling thread's

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

  std::map<std::string, std::string> checkpoints;  // uid -> file
  if (!config.checkpoint_dir.empty()) checkpoints = list_checkpoints(config.checkpoint_dir);
  const auto uids = hosted_uids(config, checkpoints);
  const std::set<std::string> requested(config.uids.begin(), config.uids.end());

  const auto inputs = input_specs(arch);
  // Built-in kinds know their outputs; a module's come from the first
  // expert's dummy forward and are reused for the rest.
  std::vector<TensorSpec> outputs = known_output_specs(arch).value_or(std::vector<TensorSpec>{});
  auto modules = make_experts(arch, uids, config.seed);
  std::vector<std::shared_ptr<TaskPool>> pools;
  std::vector<Checkpointer::Target> targets;
  size_t restored = 0;
  for (size_t i = 0; i < uids.size(); ++i) {
    const auto& uid = uids[i];
    auto make_backend = [&](std::unique_ptr<ExpertModule> module) {
      BackendOptions options{uid,    config.expert_cls,    inputs, outputs, optimizer,
                             device, config.max_batch_size};
      return std::make_unique<ExpertBackend>(std::move(module), std::move(options));
    };
    auto backend = make_backend(std::move(modules[i]));
    if (outputs.empty()) outputs = backend->options().outputs;
    bool keep_corrupt = false;
    if (auto found = checkpoints.find(uid); found != checkpoints.end()) {
      try {
        restore_checkpoint(*backend, config.hidden_dim, found->second);
        ++restored;
      } catch (const CorruptCheckpoint& error) {
        spdlog::warn("skipping corrupt checkpoint {}", error.what());
        if (!requested.contains(uid)) continue;
        keep_corrupt = true;  // the backend is as it was built: fresh
      }
    }
    if (!config.checkpoint_dir.empty()) {
      targets.push_back(
          {backend.get(),
           (std::filesystem::path(config.checkpoint_dir) / checkpoint_file_name(uid)).string(),
           keep_corrupt});
    }
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
  require(!impl_->experts.empty(), "no expert to host: every checkpoint in {} is corrupt",
          config.checkpoint_dir);
  impl_->runtime =
      std::make_unique<Runtime>(fmt::format("runtime {}", device.str()), std::move(pools));
  if (!config.checkpoint_dir.empty()) {
    impl_->checkpoint_dir = config.checkpoint_dir;
    impl_->checkpointer = std::make_unique<Checkpointer>(
        std::move(targets), config.checkpoint_every, config.hidden_dim, *impl_->runtime);
    if (!checkpoints.empty()) {
      spdlog::info("restored {} of {} expert(s) from {}", restored, checkpoints.size(),
                   config.checkpoint_dir);
    }
  }
  impl_->runtime->start();
  if (impl_->checkpointer) impl_->checkpointer->start();
  spdlog::debug("hosting {} {} expert(s) on {}", impl_->experts.size(), config.expert_cls,
                device.str());
}

ExpertServerHost::~ExpertServerHost() {
  try {
    stop();
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
  }
}

void ExpertServerHost::stop() {
  impl_->stopped.store(true);
  // The checkpoint thread first: its snapshots need the runtime running.
  if (impl_->checkpointer) impl_->checkpointer->stop();
  if (impl_->runtime) impl_->runtime->stop();
  if (impl_->checkpointer && !impl_->final_checkpoint_done) {
    impl_->final_checkpoint_done = true;
    impl_->checkpointer->save_all();
    spdlog::info("saved {} expert checkpoint(s) to {}", impl_->experts.size(),
                 impl_->checkpoint_dir);
  }
}

uint64_t ExpertServerHost::checkpoint_rounds() const {
  return impl_->checkpointer ? impl_->checkpointer->rounds() : 0;
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
                                      TaskDone done, CallDeadline deadline) {
  const auto& expert = impl_->accepting(uid);
  const auto rows = check_tensors(expert.backend->options().inputs, inputs, "forward inputs");
  require_rows(rows, "forward inputs");
  expert.forward->submit(std::move(inputs), rows, std::move(done), deadline);
}

void ExpertServerHost::submit_backward(std::string_view uid,
                                       std::vector<HostTensor> inputs_and_grads, TaskDone done,
                                       CallDeadline deadline) {
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
  expert.backward->submit(std::move(inputs_and_grads), rows, std::move(done), deadline);
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
      if (counters.batches != last.batches || counters.dropped != last.dropped) {
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
