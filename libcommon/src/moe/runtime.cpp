#include "hm/moe/runtime.h"

#include "hm/base/log.h"
#include "hm/io/busy_poll.h"

namespace hm::moe {
namespace {
constexpr const char* kShuttingDown = "server shutting down";
}  // namespace

Runtime::Runtime(std::string name, std::vector<std::shared_ptr<TaskPool>> pools)
    : name_(std::move(name)), pools_(std::move(pools)) {
  for (const auto& pool : pools_) pool->set_wakeup([this] { wake(); });
}

Runtime::~Runtime() {
  stop();
  for (const auto& pool : pools_) pool->set_wakeup(nullptr);
}

void Runtime::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { loop(); });
}

void Runtime::stop() {
  for (const auto& pool : pools_) pool->close();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    pending_ = true;
  }
  wakeup_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  } else {
    for (const auto& pool : pools_) pool->fail_queued(kShuttingDown);
  }
  drop_posted();
}

bool Runtime::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    posted_.push_back(std::move(fn));
    pending_ = true;
  }
  wakeup_.notify_one();
  return true;
}

void Runtime::drop_posted() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    dropped.swap(posted_);
  }
  // Destroyed here, outside the lock.
}

void Runtime::run_posted(std::deque<std::function<void()>>& posted) {
  for (auto& fn : posted) {
    try {
      fn();
    } catch (const std::exception& error) {
      spdlog::error("{}: task between batches failed: {}", name_, error.what());
    }
  }
  posted.clear();
}

void Runtime::wake() {
  {
    std::lock_guard lock(mutex_);
    pending_ = true;
  }
  wakeup_.notify_one();
}

bool Runtime::serve_one(Clock::time_point& deadline) {
  const auto now = Clock::now();
  TaskPool* best = nullptr;
  Clock::time_point best_oldest;
  deadline = Clock::time_point::max();
  for (const auto& pool : pools_) {
    const auto state = pool->state(now);
    if (!state.has_tasks) continue;
    if (!state.ready) {
      deadline = std::min(deadline, state.deadline);
    } else if (best == nullptr || state.oldest < best_oldest) {
      best = pool.get();
      best_oldest = state.oldest;
    }
  }
  if (best == nullptr) return false;
  best->run_batch(best->take_batch());
  return true;
}

bool Runtime::poll_for_wakeup(Clock::time_point deadline) const {
  const auto window = io::busy_poll_window();
  if (window.count() == 0) return false;
  const auto end = std::min(deadline, Clock::now() + window);
  while (Clock::now() < end) {
    for (int i = 0; i < 4; ++i) {
      if (pending_) return true;
      std::this_thread::yield();
    }
  }
  return false;
}

void Runtime::loop() {
  spdlog::debug("{}: serving {} task pools", name_, pools_.size());
  std::deque<std::function<void()>> posted;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      pending_ = false;  // what arrives from here on wakes the wait below
      posted.swap(posted_);
    }
    run_posted(posted);
    Clock::time_point deadline;
    if (serve_one(deadline)) continue;
    if (poll_for_wakeup(deadline)) continue;
    std::unique_lock lock(mutex_);
    const auto woken = [this] { return pending_ || stopping_; };
    if (deadline == Clock::time_point::max()) {
      wakeup_.wait(lock, woken);
    } else {
      wakeup_.wait_until(lock, deadline, woken);
    }
  }
  for (const auto& pool : pools_) pool->fail_queued(kShuttingDown);
  spdlog::debug("{}: stopped", name_);
}

}  // namespace hm::moe
