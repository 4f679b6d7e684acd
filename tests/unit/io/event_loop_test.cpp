#include "hm/io/event_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <kj/debug.h>

#include "hm/io/loop_thread.h"

namespace hm::io {
namespace {

TEST(EventLoop, PostFromAnotherThreadRunsOnTheLoopInOrder) {
  EventLoop loop;
  std::vector<int> seen;
  std::thread::id loop_thread = std::this_thread::get_id();
  std::atomic<bool> wrong_thread = false;
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) {
      loop.post([&, i] {
        if (std::this_thread::get_id() != loop_thread) wrong_thread = true;
        seen.push_back(i);
      });
    }
    loop.post([&] { loop.stop(); });
  });
  loop.run();
  poster.join();
  EXPECT_FALSE(wrong_thread);
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
}

TEST(EventLoop, UvTimerStartedFromKjSideFiresAfterRearm) {
  EventLoop loop;
  uv_timer_t timer;
  uv_timer_init(loop.uv(), &timer);
  bool fired = false;
  timer.data = &fired;
  // Started from kj code (not from a uv callback): needs rearm().
  loop.detach(loop.timer().afterDelay(1 * kj::MILLISECONDS).then([&] {
    uv_timer_start(&timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 20, 0);
    loop.rearm();
  }));
  // Wait until the uv timer fired, bounded by 2 s of kj time.
  for (int i = 0; i < 200 && !fired; ++i) {
    loop.wait(loop.timer().afterDelay(10 * kj::MILLISECONDS));
  }
  EXPECT_TRUE(fired);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
}

TEST(EventLoop, KjTimersRunWhileUvIsIdle) {
  EventLoop loop;
  auto start = std::chrono::steady_clock::now();
  loop.wait(loop.timer().afterDelay(30 * kj::MILLISECONDS));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(29));
}

TEST(EventLoop, StopBeforeRunReturnsAtOnceAndDropsLaterPosts) {
  EventLoop loop;
  bool timer_fired = false;
  loop.detach(loop.timer().afterDelay(2 * kj::SECONDS).then([&] { timer_fired = true; }));
  loop.stop();
  bool posted_ran = false;
  loop.post([&] { posted_ran = true; });
  auto start = std::chrono::steady_clock::now();
  loop.run();
  // run() returned before the 2 s timer could fire: it did not wait for work.
  EXPECT_FALSE(timer_fired);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_FALSE(posted_ran) << "a function posted after stop() ran";
}

TEST(LoopThread, CallReturnsThePromiseValue) {
  LoopThread thread;
  auto future = thread.call<int>([](EventLoop& loop) {
    return loop.timer().afterDelay(1 * kj::MILLISECONDS).then([] { return 42; });
  });
  EXPECT_EQ(future.get(), 42);
}

TEST(LoopThread, CallCarriesKjErrorsAsHmError) {
  LoopThread thread;
  auto future = thread.call<int>([](EventLoop&) -> kj::Promise<int> {
    return KJ_EXCEPTION(FAILED, "boom");
  });
  EXPECT_THROW(future.get(), hm::Error);
}

TEST(LoopThread, CallCarriesSynchronousThrows) {
  LoopThread thread;
  auto future = thread.call<int>([](EventLoop&) -> kj::Promise<int> {
    throw hm::Error("bad request");
  });
  try {
    future.get();
    FAIL() << "expected an exception";
  } catch (const hm::Error& e) {
    EXPECT_STREQ(e.what(), "bad request");
  }
}

}  // namespace
}  // namespace hm::io
