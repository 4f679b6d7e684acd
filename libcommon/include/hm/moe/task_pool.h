// TaskPool: the queue of one expert's forward (or backward) requests, and the
// code that runs a batch of them as one call.
//
// Submitters (the event-loop thread, tests) add whole tasks; the device's
// Runtime asks which pools are ready, takes a batch from the one whose oldest
// task has waited longest, and runs it on its own thread: the tasks' inputs
// are concatenated along dim 0 (one copy; none for a single task), passed to
// the pool's BatchFn, and the outputs are split back per task. A batch never
// holds more than max_batch_size rows and never splits a task.
//
// Deadlines: a task may carry its call's CallDeadline (hm/rpc/call_deadline.h).
// take_batch() drops every task at the head of the queue whose deadline has
// passed, instead of putting it in the batch: its `done` gets
// CallDeadline::exceeded_message() and counters().dropped counts it. That
// costs one steady-clock read per take_batch() that meets a task with a
// deadline, none otherwise. A task in a batch that is running finishes
// normally; a task without a deadline is never dropped.
//
// Thread rules: submit(), close() and counters() from any thread; state(),
// take_batch(), run_batch() and fail_queued() from the runtime thread. The
// pool's mutex guards only the queue (and the wakeup); no lock is held while
// torch runs or while a task's `done` is called. Ownership: the pool owns
// queued tasks; `done` is called exactly once for every accepted task.
#pragma once

#include <torch/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "hm/moe/pool_metrics.h"
#include "hm/moe/pool_stats.h"
#include "hm/rpc/expert_host.h"

namespace hm::moe {

using Clock = std::chrono::steady_clock;

// One request waiting in a pool.
struct Task {
  std::vector<HostTensor> inputs;
  int64_t rows = 0;  // dim 0 of every input
  Clock::time_point enqueued;
  TaskDone done;
  CallDeadline deadline;  // default: none
};

struct PoolOptions {
  std::string name = "pool";  // "ffn.0.1 forward", for errors and stats
  int64_t max_batch_size = 4096;
  int64_t min_batch_size = 1;
  // A pool with fewer than min_batch_size rows queued runs anyway once its
  // oldest task has waited this long.
  std::chrono::milliseconds max_wait{50};
  // The labels of the pool's metrics (pool_metrics.h).
  std::string uid;
  std::string method;
};

// Computes one batch: inputs concatenated along dim 0 -> outputs whose dim 0
// is the same total row count. Called on the runtime thread; may throw.
using BatchFn = std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>&)>;

class TaskPool {
 public:
  TaskPool(PoolOptions options, BatchFn fn);
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Queues a task of `rows` rows. Throws hm::Error without calling `done`
  // when rows > max_batch_size ("batch of 5000 rows exceeds --max-batch-size
  // 4096") or after close() ("server shutting down"). `deadline`: see above.
  void submit(std::vector<HostTensor> inputs, int64_t rows, TaskDone done,
              CallDeadline deadline = {});

  // Refuses further submits; queued tasks stay until fail_queued().
  void close();

  struct State {
    bool has_tasks = false;
    bool ready = false;          // enough rows, or the oldest waited max_wait
    Clock::time_point oldest;    // enqueue time of the oldest task
    Clock::time_point deadline;  // when a non-ready pool becomes ready
  };
  State state(Clock::time_point now) const;

  // The oldest tasks, in FIFO order, while their rows total <= max_batch_size;
  // tasks past their deadline are answered and dropped on the way (so the
  // batch may be empty). Calls their `done` after releasing the lock.
  std::vector<Task> take_batch();

  // Runs the batch and calls every task's `done`. An exception fails every
  // task of the batch with "expert <name> failed: <first line>".
  void run_batch(std::vector<Task> batch);

  // Fails every queued task with `error`.
  void fail_queued(const std::string& error);

  // Called after every accepted submit, under the pool's lock (so it must
  // not call back into the pool); once set_wakeup(nullptr) returns it is
  // never called again. The Runtime sets it.
  void set_wakeup(std::function<void()> wakeup);

  PoolCounters counters() const { return {batches_.load(), samples_.load(), dropped_.load()}; }
  const PoolOptions& options() const { return options_; }

 private:
  const PoolOptions options_;
  const BatchFn fn_;
  const PoolMetrics metrics_;

  mutable std::mutex mutex_;
  std::deque<Task> queue_;        // guarded by mutex_
  int64_t queued_rows_ = 0;       // guarded by mutex_
  bool closed_ = false;           // guarded by mutex_
  std::function<void()> wakeup_;  // guarded by mutex_

  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> samples_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace hm::moe
