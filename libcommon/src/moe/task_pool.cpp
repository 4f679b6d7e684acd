#include "hm/moe/task_pool.h"

#include <optional>
#include <utility>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/torch/torch_bridge.h"
#include "hm/torch/torch_errors.h"

namespace hm::moe {
namespace {

constexpr const char* kShuttingDown = "server shutting down";

// One tensor per input position, rows of all tasks in order.
std::vector<torch::Tensor> concat_inputs(const std::vector<Task>& batch) {
  const size_t count = batch.front().inputs.size();
  std::vector<torch::Tensor> out;
  out.reserve(count);
  std::vector<torch::Tensor> parts(batch.size());
  for (size_t i = 0; i < count; ++i) {
    for (size_t t = 0; t < batch.size(); ++t) {
      require(batch[t].inputs.size() == count, "tasks of one batch have {} and {} inputs", count,
              batch[t].inputs.size());
      parts[t] = to_torch(batch[t].inputs[i]);
    }
    out.push_back(parts.size() == 1 ? parts.front() : torch::cat(parts, 0));
  }
  return out;
}

// Splits every output back into per-task rows, as HostTensors.
void split_outputs(const std::vector<torch::Tensor>& outputs, const std::vector<Task>& batch,
                   int64_t rows, std::vector<TaskOutcome>& outcomes) {
  std::vector<int64_t> sizes;
  sizes.reserve(batch.size());
  for (const auto& task : batch) sizes.push_back(task.rows);
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto output = outputs[i].to(torch::kCPU).contiguous();
    require(output.dim() >= 1 && output.size(0) == rows, "output {} has shape {}, expected {} rows",
            i, shape_string(output.sizes().vec()), rows);
    const auto pieces = output.split_with_sizes(sizes, 0);
    for (size_t t = 0; t < batch.size(); ++t) {
      outcomes[t].outputs.push_back(from_torch(pieces[t]));
    }
  }
}

void call_done(Task& task, TaskOutcome outcome, const std::string& pool) {
  try {
    task.done(std::move(outcome));
  } catch (const std::exception& error) {
    spdlog::error("{}: a task's completion handler threw: {}", pool, error.what());
  }
}

}  // namespace

TaskPool::TaskPool(PoolOptions options, BatchFn fn)
    : options_(std::move(options)),
      fn_(std::move(fn)),
      metrics_(PoolMetrics::of(options_.uid, options_.method)) {
  require(options_.max_batch_size >= 1, "{}: max-batch-size must be at least 1, got {}",
          options_.name, options_.max_batch_size);
}

void TaskPool::submit(std::vector<HostTensor> inputs, int64_t rows, TaskDone done,
                      CallDeadline deadline) {
  require(rows <= options_.max_batch_size, "batch of {} rows exceeds --max-batch-size {}", rows,
          options_.max_batch_size);
  std::lock_guard lock(mutex_);
  if (closed_) throw Error(kShuttingDown);
  queue_.push_back(Task{std::move(inputs), rows, Clock::now(), std::move(done), deadline});
  queued_rows_ += rows;
  // Under the lock, so that set_wakeup(nullptr) guarantees no later call.
  if (wakeup_) wakeup_();
}

void TaskPool::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
}

void TaskPool::set_wakeup(std::function<void()> wakeup) {
  std::lock_guard lock(mutex_);
  wakeup_ = std::move(wakeup);
}

TaskPool::State TaskPool::state(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  State state;
  if (queue_.empty()) return state;
  state.has_tasks = true;
  state.oldest = queue_.front().enqueued;
  state.deadline = state.oldest + options_.max_wait;
  state.ready = queued_rows_ >= options_.min_batch_size || now >= state.deadline;
  return state;
}

std::vector<Task> TaskPool::take_batch() {
  std::vector<Task> batch, expired;
  {
    std::lock_guard lock(mutex_);
    std::optional<Clock::time_point> now;  // read once, at the first deadline met
    const auto too_late = [&now](const Task& task) {
      if (task.deadline.none()) return false;
      if (!now) now = Clock::now();
      return task.deadline.passed(*now);
    };
    int64_t rows = 0;
    while (!queue_.empty()) {
      auto& task = queue_.front();
      if (too_late(task)) {
        queued_rows_ -= task.rows;
        expired.push_back(std::move(task));
      } else if (rows + task.rows <= options_.max_batch_size) {
        rows += task.rows;
        batch.push_back(std::move(task));
      } else {
        break;
      }
      queue_.pop_front();
    }
    queued_rows_ -= rows;
  }
  if (!expired.empty()) {
    dropped_.fetch_add(expired.size());
    metrics_.dropped->inc(static_cast<double>(expired.size()));
    spdlog::debug("{}: dropped {} task(s) whose client had given up", options_.name,
                  expired.size());
    for (auto& task : expired) {
      call_done(task, TaskOutcome{{}, task.deadline.exceeded_message()}, options_.name);
    }
  }
  return batch;
}

void TaskPool::run_batch(std::vector<Task> batch) {
  if (batch.empty()) return;
  const auto started = Clock::now();
  int64_t rows = 0;
  for (const auto& task : batch) {
    rows += task.rows;
    metrics_.queue_wait_seconds->observe(
        std::chrono::duration<double>(started - task.enqueued).count());
  }
  std::vector<TaskOutcome> outcomes(batch.size());
  try {
    split_outputs(fn_(concat_inputs(batch)), batch, rows, outcomes);
    batches_.fetch_add(1);
    samples_.fetch_add(static_cast<uint64_t>(rows));
    metrics_.compute_seconds->observe(
        std::chrono::duration<double>(Clock::now() - started).count());
    metrics_.batches->inc();
    metrics_.rows->inc(static_cast<double>(rows));
    metrics_.batch_rows->observe(static_cast<double>(rows));
  } catch (const std::exception& error) {
    const auto message = fmt::format("expert {} failed: {}", options_.name, one_line_what(error));
    spdlog::warn("{} (batch of {} tasks, {} rows)", message, batch.size(), rows);
    for (auto& outcome : outcomes) outcome = TaskOutcome{{}, message};
  }
  for (size_t t = 0; t < batch.size(); ++t) {
    call_done(batch[t], std::move(outcomes[t]), options_.name);
  }
}

void TaskPool::fail_queued(const std::string& error) {
  std::deque<Task> failed;
  {
    std::lock_guard lock(mutex_);
    failed.swap(queue_);
    queued_rows_ = 0;
  }
  for (auto& task : failed) call_done(task, TaskOutcome{{}, error}, options_.name);
}

}  // namespace hm::moe
