// Runtime: the one thread per device that runs every batch of that device's
// task pools.
//
// It sleeps on a condition variable (after polling for one busy-poll window,
// hm/io/busy_poll.h, when that is on) until a pool is ready (enough rows, or
// its oldest task waited max_wait), serves the ready pool whose oldest task
// has waited longest, takes a batch from it and runs it, and repeats. A
// failing batch fails only its own tasks; the thread keeps serving. Between
// batches it runs the functions given to post() (checkpoint snapshots).
//
// Thread rules: start() and stop() from one controlling thread; pools wake
// the runtime from any thread. Ownership: shares ownership of its pools;
// stop() (also run by the destructor) must happen before the backends the
// pools' BatchFns use are destroyed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hm/moe/task_pool.h"

namespace hm::moe {

class Runtime {
 public:
  // Registers itself as every pool's wakeup; does not start the thread.
  Runtime(std::string name, std::vector<std::shared_ptr<TaskPool>> pools);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Starts the thread; tasks submitted before start() wait for it.
  void start();

  // Closes every pool to new tasks, lets the batch in progress finish, fails
  // every queued task with "server shutting down" (from the runtime thread
  // when it runs) and joins the thread. Idempotent.
  void stop();

  // Runs `fn` on the runtime thread between batches (before the next batch
  // is taken), in FIFO order: where a checkpoint snapshots an expert's
  // weights without a lock. `fn` should be short and must not throw (what
  // it throws is logged and dropped). Returns false, dropping `fn`, once
  // stop() has begun; tasks still queued when the thread exits are destroyed
  // without running (a promise they hold reports broken_promise). Any thread.
  bool post(std::function<void()> fn);

  const std::vector<std::shared_ptr<TaskPool>>& pools() const { return pools_; }

 private:
  void wake();
  void loop();
  // Runs one batch from the ready pool with the oldest task; false when no
  // pool was ready, with `deadline` set to when the next one will be.
  bool serve_one(Clock::time_point& deadline);
  // Runs (and empties) `posted` on the runtime thread.
  void run_posted(std::deque<std::function<void()>>& posted);
  // Destroys the posted functions that never ran.
  void drop_posted();
  // With busy polling on: waits for a wakeup without sleeping, for one
  // window at most and not past `deadline`; true when one came.
  bool poll_for_wakeup(Clock::time_point deadline) const;

  const std::string name_;
  const std::vector<std::shared_ptr<TaskPool>> pools_;

  std::mutex mutex_;
  std::condition_variable wakeup_;
  // A task, post or stop arrived since the last scan. Written under mutex_
  // (the condition variable's predicate); atomic so that poll_for_wakeup can
  // read it without the lock.
  std::atomic<bool> pending_{false};
  bool stopping_ = false;  // guarded by mutex_
  std::deque<std::function<void()>> posted_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace hm::moe
