#include "hm/io/busy_poll.h"

#include <gtest/gtest.h>
#include <time.h>

#include <chrono>

#include "hm/base/error.h"
#include "hm/io/event_loop.h"

namespace hm::io {
namespace {

using std::chrono::microseconds;

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Restores the process-wide window whatever a test does.
class BusyPoll : public ::testing::Test {
 protected:
  void TearDown() override { set_busy_poll(microseconds(0)); }

  // CPU time the loop thread spends while it waits `wait_ms` for a timer,
  // after one expect_soon().
  static double cpu_ms_while_waiting(int wait_ms) {
    EventLoop loop;
    const double before = thread_cpu_ms();
    loop.expect_soon();
    loop.wait(loop.timer().afterDelay(wait_ms * kj::MILLISECONDS));
    return thread_cpu_ms() - before;
  }
};

TEST_F(BusyPoll, OffByDefaultTheLoopSleeps) {
  EXPECT_EQ(busy_poll_window().count(), 0);
  EXPECT_LT(cpu_ms_while_waiting(40), 10.0);
}

TEST_F(BusyPoll, ExpectSoonPollsForTheWindowThenSleeps) {
  // The longest window (10 ms) inside a 400 ms wait: the thread polls
  // (burns CPU) for about the window, then sleeps for the rest. Bounds are
  // loose on both sides: a busy host may deschedule the thread (less CPU),
  // and the window must end (far less than the 400 ms it would burn polling
  // throughout).
  set_busy_poll(kMaxBusyPoll);
  const double cpu = cpu_ms_while_waiting(400);
  EXPECT_GT(cpu, 1.0);
  EXPECT_LT(cpu, 150.0);
}

TEST_F(BusyPoll, EventsArriveWhilePolling) {
  // While the poller runs, kj must still see its descriptors: a timer and a
  // cross-thread post both complete inside the window.
  set_busy_poll(microseconds(10'000));
  EventLoop loop;
  bool posted = false;
  loop.expect_soon();
  loop.post([&] { posted = true; });
  const auto start = std::chrono::steady_clock::now();
  loop.wait(loop.timer().afterDelay(2 * kj::MILLISECONDS));
  for (int i = 0; i < 100 && !posted; ++i) loop.wait(loop.timer().afterDelay(kj::MILLISECONDS));
  EXPECT_TRUE(posted);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(BusyPoll, WindowOutsideItsRangeIsRefused) {
  EXPECT_THROW(set_busy_poll(kMaxBusyPoll + microseconds(1)), Error);
  EXPECT_THROW(set_busy_poll(microseconds(-1)), Error);
  set_busy_poll(kMaxBusyPoll);
  EXPECT_EQ(busy_poll_window(), kMaxBusyPoll);
}

}  // namespace
}  // namespace hm::io
