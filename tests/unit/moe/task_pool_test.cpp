// TaskPool and Runtime with plain BatchFns (no experts): batching limits,
// scheduling order, waits, failures and shutdown.
#include "hm/moe/task_pool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <torch/types.h>

#include <atomic>
#include <random>
#include <thread>

#include "hm/base/error.h"
#include "hm/io/busy_poll.h"
#include "hm/moe/runtime.h"
#include "hm/torch/torch_bridge.h"
#include "torch_test_util.h"

namespace hm::moe {
namespace {

using namespace std::chrono_literals;

// Rows filled with `value` (2 columns).
HostTensor rows_of(int64_t rows, float value) { return from_torch(torch::full({rows, 2}, value)); }

// Records batch sizes; doubles its input.
struct Recorder {
  std::mutex mutex;
  std::vector<int64_t> sizes;
  std::vector<std::string> order;  // which pool ran, in order

  BatchFn fn(std::string name = "", std::chrono::milliseconds delay = 0ms) {
    return [this, name, delay](const std::vector<torch::Tensor>& in) {
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      std::lock_guard lock(mutex);
      sizes.push_back(in.at(0).size(0));
      order.push_back(name);
      return std::vector<torch::Tensor>{in.at(0) * 2};
    };
  }
  std::vector<int64_t> snapshot() {
    std::lock_guard lock(mutex);
    return sizes;
  }
};

PoolOptions options(const std::string& name, int64_t max, int64_t min = 1,
                    std::chrono::milliseconds wait = 50ms) {
  return {name, max, min, wait};
}

TEST(TaskPool, RefusesOversizeTasks) {
  TaskPool pool(options("ffn.0.1 forward", 4096), [](const auto& in) { return in; });
  bool called = false;
  try {
    pool.submit({rows_of(5000, 1)}, 5000, [&](TaskOutcome) { called = true; });
    FAIL() << "expected hm::Error";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "batch of 5000 rows exceeds --max-batch-size 4096");
  }
  EXPECT_FALSE(pool.state(Clock::now()).has_tasks);
  EXPECT_FALSE(called);
}

TEST(TaskPool, TakesWholeTasksInOrderUpToTheMaximum) {
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(options("p", 10), recorder.fn());
  std::vector<test::Outcome> outcomes(3);
  for (int i = 0; i < 3; ++i) pool->submit({rows_of(4, float(i))}, 4, outcomes[i].done());
  Runtime runtime("test", {pool});
  runtime.start();
  for (int i = 0; i < 3; ++i) {
    const auto outcome = outcomes[i].get();
    ASSERT_TRUE(outcome.ok()) << outcome.error;
    EXPECT_TRUE(torch::equal(to_torch(outcome.outputs.at(0)), torch::full({4, 2}, 2.0f * i)));
  }
  EXPECT_EQ(recorder.snapshot(), (std::vector<int64_t>{8, 4}));
  EXPECT_EQ(pool->counters().batches, 2u);
  EXPECT_EQ(pool->counters().samples, 12u);
}

TEST(TaskPool, NeverExceedsMaxBatchSizeUnderConcurrentSubmitters) {
  constexpr int kThreads = 4, kTasksEach = 100, kMax = 64;
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(options("p", kMax), recorder.fn("p", 1ms));
  Runtime runtime("test", {pool});
  runtime.start();
  std::vector<std::atomic<int>> calls(kThreads * kTasksEach);
  std::atomic<int> wrong{0}, completed{0};
  std::atomic<int64_t> total_rows{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(t);
      for (int i = 0; i < kTasksEach; ++i) {
        const int id = t * kTasksEach + i;
        const int64_t rows = 1 + random() % kMax;
        total_rows += rows;
        pool->submit({rows_of(rows, float(id))}, rows, [&, id, rows](TaskOutcome outcome) {
          calls[id]++;
          const bool ok =
              outcome.ok() && outcome.outputs.size() == 1 &&
              torch::equal(to_torch(outcome.outputs[0]), torch::full({rows, 2}, 2.0f * id));
          if (!ok) wrong++;
          completed++;
        });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto deadline = Clock::now() + 20s;
  while (completed < kThreads * kTasksEach && Clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  runtime.stop();
  EXPECT_EQ(wrong.load(), 0);
  for (auto& count : calls) EXPECT_EQ(count.load(), 1);
  const auto sizes = recorder.snapshot();
  int64_t sum = 0;
  for (auto size : sizes) {
    EXPECT_LE(size, kMax);
    sum += size;
  }
  EXPECT_EQ(sum, total_rows.load());
  EXPECT_LT(sizes.size(), static_cast<size_t>(kThreads * kTasksEach)) << "tasks were batched";
}

// Two pools queue before the runtime starts: the one whose task is older runs
// first, whatever the registration order.
TEST(Runtime, ServesThePoolWithTheOldestTaskFirst) {
  for (const bool a_first : {true, false}) {
    Recorder recorder;
    auto a = std::make_shared<TaskPool>(options("a", 8), recorder.fn("a"));
    auto b = std::make_shared<TaskPool>(options("b", 8), recorder.fn("b"));
    test::Outcome done_a, done_b;
    if (a_first) {
      a->submit({rows_of(1, 0)}, 1, done_a.done());
      std::this_thread::sleep_for(2ms);
      b->submit({rows_of(1, 0)}, 1, done_b.done());
    } else {
      b->submit({rows_of(1, 0)}, 1, done_b.done());
      std::this_thread::sleep_for(2ms);
      a->submit({rows_of(1, 0)}, 1, done_a.done());
    }
    Runtime runtime("test", {a, b});
    runtime.start();
    done_a.get();
    done_b.get();
    EXPECT_EQ(recorder.order,
              (a_first ? std::vector<std::string>{"a", "b"} : std::vector<std::string>{"b", "a"}));
  }
}

TEST(Runtime, MinBatchSizeWaitsForEnoughRows) {
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(options("p", 64, 10, 2s), recorder.fn());
  Runtime runtime("test", {pool});
  runtime.start();
  test::Outcome first, second;
  pool->submit({rows_of(3, 1)}, 3, first.done());
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(first.ready()) << "3 rows < min_batch_size 10 must wait";
  const auto start = Clock::now();
  pool->submit({rows_of(7, 2)}, 7, second.done());
  EXPECT_TRUE(first.get(1s).ok()) << "10 rows are enough: no need to wait 2 s";
  EXPECT_TRUE(second.get(1s).ok());
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_EQ(recorder.snapshot(), (std::vector<int64_t>{10}));
}

TEST(Runtime, MaxWaitFlushesASmallBatch) {
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(options("p", 64, 10, 300ms), recorder.fn());
  Runtime runtime("test", {pool});
  runtime.start();
  test::Outcome alone;
  const auto start = Clock::now();
  pool->submit({rows_of(3, 3)}, 3, alone.done());
  EXPECT_TRUE(alone.get(5s).ok());
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, 290ms);
  EXPECT_LT(waited, 2s);
  EXPECT_EQ(recorder.snapshot(), (std::vector<int64_t>{3}));
}

TEST(Runtime, AFailingBatchFailsOnlyItsTasks) {
  for (const int kind : {0, 1, 2}) {
    const BatchFn fn = [kind](const std::vector<torch::Tensor>& in) {
      if (in.at(0).lt(0).any().item<bool>()) {
        if (kind == 0) throw Error("boom");
        if (kind == 1) TORCH_CHECK(false, "boom");
        throw std::runtime_error("boom\nmore detail");
      }
      return in;
    };
    auto pool = std::make_shared<TaskPool>(options("ffn.0.1 forward", 8), fn);
    test::Outcome bad, same_batch, later;
    pool->submit({rows_of(1, -1)}, 1, bad.done());
    pool->submit({rows_of(1, 1)}, 1, same_batch.done());
    Runtime runtime("test", {pool});
    runtime.start();
    EXPECT_EQ(bad.get().error, "expert ffn.0.1 forward failed: boom") << kind;
    EXPECT_EQ(same_batch.get().error, "expert ffn.0.1 forward failed: boom") << kind;
    pool->submit({rows_of(2, 1)}, 2, later.done());
    const auto outcome = later.get();
    EXPECT_TRUE(outcome.ok()) << outcome.error;
    EXPECT_EQ(pool->counters().batches, 1u);
  }
}

TEST(Runtime, OutputsWithTheWrongRowCountFailTheBatch) {
  auto pool = std::make_shared<TaskPool>(options("p", 8), [](const std::vector<torch::Tensor>&) {
    return std::vector<torch::Tensor>{torch::zeros({1, 2})};
  });
  Runtime runtime("test", {pool});
  runtime.start();
  test::Outcome outcome;
  pool->submit({rows_of(3, 1)}, 3, outcome.done());
  EXPECT_EQ(outcome.get().error, "expert p failed: output 0 has shape [1, 2], expected 3 rows");
}

TEST(Runtime, StopFinishesTheBatchInProgressAndFailsTheQueue) {
  std::promise<void> entered, release;
  auto release_future = release.get_future().share();
  std::atomic<bool> first{true};
  auto pool =
      std::make_shared<TaskPool>(options("p", 1), [&](const std::vector<torch::Tensor>& in) {
        if (first.exchange(false)) {
          entered.set_value();
          release_future.wait();
        }
        return in;
      });
  Runtime runtime("test", {pool});
  runtime.start();
  test::Outcome running, queued1, queued2;
  pool->submit({rows_of(1, 1)}, 1, running.done());
  entered.get_future().wait();
  pool->submit({rows_of(1, 2)}, 1, queued1.done());
  pool->submit({rows_of(1, 3)}, 1, queued2.done());

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    runtime.stop();
    stopped = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(stopped.load()) << "stop() must wait for the batch in progress";
  try {
    pool->submit({rows_of(1, 4)}, 1, [](TaskOutcome) { ADD_FAILURE() << "refused task ran"; });
    ADD_FAILURE() << "expected a refusal";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "server shutting down");
  }
  release.set_value();
  stopper.join();
  EXPECT_TRUE(running.get().ok());
  EXPECT_EQ(queued1.get().error, "server shutting down");
  EXPECT_EQ(queued2.get().error, "server shutting down");
}

// Deadlines (hm/rpc/call_deadline.h): a task whose client has given up is
// skipped when a batch is formed, answered with the named error and counted.
CallDeadline passed_deadline(uint32_t budget_ms) {
  return {Clock::now() - std::chrono::milliseconds(1), budget_ms};
}

TEST(TaskPool, SkipsTasksPastTheirDeadlineWhenFormingABatch) {
  Recorder recorder;
  TaskPool pool(options("ffn.0.1 forward", 8), recorder.fn());
  test::Outcome expired_big, live, expired, patient, unlimited;
  // 8 expired rows first: they must not take the batch's room.
  pool.submit({rows_of(8, 0)}, 8, expired_big.done(), passed_deadline(120));
  pool.submit({rows_of(3, 1)}, 3, live.done());
  pool.submit({rows_of(2, 2)}, 2, expired.done(), passed_deadline(50));
  pool.submit({rows_of(5, 3)}, 5, patient.done(), CallDeadline::in(std::chrono::seconds(60)));
  pool.submit({rows_of(1, 4)}, 1, unlimited.done());
  auto batch = pool.take_batch();
  EXPECT_EQ(expired_big.get(0ms).error,
            "deadline exceeded: the client gave up after 120 ms; dropped before computing");
  EXPECT_EQ(expired.get(0ms).error,
            "deadline exceeded: the client gave up after 50 ms; dropped before computing");
  ASSERT_EQ(batch.size(), 2u);  // live + patient = 8 rows; unlimited waits
  EXPECT_EQ(batch[0].rows + batch[1].rows, 8);
  pool.run_batch(std::move(batch));
  EXPECT_TRUE(live.get(0ms).ok());
  const auto answered = patient.get(0ms);
  ASSERT_TRUE(answered.ok()) << answered.error;
  EXPECT_TRUE(torch::equal(to_torch(answered.outputs.at(0)), torch::full({5, 2}, 6.0f)));
  pool.run_batch(pool.take_batch());
  EXPECT_TRUE(unlimited.get(0ms).ok());
  EXPECT_EQ(recorder.snapshot(), (std::vector<int64_t>{8, 1})) << "dropped tasks never ran";
  const auto counters = pool.counters();
  EXPECT_EQ(counters.batches, 2u);
  EXPECT_EQ(counters.samples, 9u);
  EXPECT_EQ(counters.dropped, 2u);
  EXPECT_FALSE(pool.state(Clock::now()).has_tasks);
}

// Behind a slow batch, a task whose client gives up first is dropped; a task
// already inside the running batch is answered although its deadline passed.
TEST(Runtime, DropsLateTasksButFinishesTheRunningBatch) {
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(options("p", 4), recorder.fn("p", 300ms));
  Runtime runtime("test", {pool});
  test::Outcome running, late, in_time, unlimited;
  pool->submit({rows_of(4, 1)}, 4, running.done(), CallDeadline::in(100ms));
  runtime.start();
  std::this_thread::sleep_for(50ms);  // the runtime is inside the 300 ms batch
  pool->submit({rows_of(1, 2)}, 1, late.done(), CallDeadline::in(100ms));
  pool->submit({rows_of(1, 3)}, 1, in_time.done(), CallDeadline::in(20s));
  pool->submit({rows_of(1, 4)}, 1, unlimited.done());
  EXPECT_TRUE(running.get().ok()) << "a batch that started finishes";
  EXPECT_EQ(late.get().error,
            "deadline exceeded: the client gave up after 100 ms; dropped before computing");
  EXPECT_TRUE(in_time.get().ok());
  EXPECT_TRUE(unlimited.get().ok());
  EXPECT_EQ(recorder.snapshot(), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(pool->counters().dropped, 1u);
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

TEST(Runtime, WaitingDoesNotSpin) {
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(options("p", 64, 32, 10s), recorder.fn());
  Runtime runtime("test", {pool});
  runtime.start();
  test::Outcome outcome;
  pool->submit({rows_of(1, 1)}, 1, outcome.done());  // not ready for 10 s
  const double before = process_cpu_seconds();
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(process_cpu_seconds() - before, 0.05);
  runtime.stop();
  EXPECT_EQ(outcome.get().error, "server shutting down");
  EXPECT_TRUE(recorder.snapshot().empty());
}

// With busy polling on, the runtime polls for a task for one window after a
// batch, then sleeps: a task arriving in the window or after it is served
// alike, an idle runtime burns no CPU past the window, and stop() ends a poll.
TEST(Runtime, BusyPollingServesTasksThenSleeps) {
  io::set_busy_poll(std::chrono::microseconds(5000));
  struct Off {
    ~Off() { io::set_busy_poll(std::chrono::microseconds(0)); }
  } off;
  Recorder recorder;
  auto pool = std::make_shared<TaskPool>(options("p", 64), recorder.fn());
  Runtime runtime("test", {pool});
  runtime.start();
  for (int i = 0; i < 20; ++i) {
    test::Outcome outcome;
    pool->submit({rows_of(1, static_cast<float>(i))}, 1, outcome.done());
    EXPECT_TRUE(outcome.get(5s).ok()) << "task " << i;
    if (i % 5 == 4) std::this_thread::sleep_for(20ms);  // past the window: from sleep
  }
  EXPECT_EQ(recorder.snapshot().size(), 20u);
  std::this_thread::sleep_for(50ms);  // the last window ends
  const double before = process_cpu_seconds();
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(process_cpu_seconds() - before, 0.05) << "an idle runtime must sleep";
  const auto start = Clock::now();
  runtime.stop();
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(PoolStats, FormatsTheIntervalReport) {
  EXPECT_EQ(format_pool_report("ffn.0.1 forward", {10, 1000}, {22, 4072}, 1.0),
            "ffn.0.1 forward: 12.0 batches/s, 3072 samples/s, mean batch 256.0");
  EXPECT_EQ(format_pool_report("x backward", {0, 0}, {3, 30}, 2.0),
            "x backward: 1.5 batches/s, 15 samples/s, mean batch 10.0");
  EXPECT_EQ(format_pool_report("idle", {5, 50}, {5, 50}, 1.0),
            "idle: 0.0 batches/s, 0 samples/s, mean batch 0.0");
  EXPECT_EQ(format_pool_report("late", {5, 50, 1}, {6, 60, 4}, 1.0),
            "late: 1.0 batches/s, 10 samples/s, mean batch 10.0, 3 dropped past their deadline");
  EXPECT_EQ(format_pool_report("same", {5, 50, 4}, {6, 60, 4}, 1.0),
            "same: 1.0 batches/s, 10 samples/s, mean batch 10.0");
}

}  // namespace
}  // namespace hm::moe
