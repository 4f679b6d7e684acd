// A bare libuv loop for DHT tests: run it until a condition holds, bounded
// in wall-clock time; close everything at the end.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <functional>

#include "hm/io/uv_timer.h"

namespace hm::dht::testing {

class LoopTest : public ::testing::Test {
 protected:
  LoopTest() { uv_loop_init(&loop_); }
  ~LoopTest() override {
    // Handles owned by the test were destroyed with its members; let their
    // close callbacks run, boundedly.
    for (int round = 0; round < 1000 && uv_loop_close(&loop_) == UV_EBUSY; ++round) {
      uv_run(&loop_, UV_RUN_NOWAIT);
    }
  }

  uv_loop_t* loop() { return &loop_; }

  // Runs the loop until `done()` or `seconds` pass; returns done().
  bool run_until(const std::function<bool()>& done, double seconds = 10) {
    io::Timer tick(&loop_, [] {});
    tick.start(5, 5);  // wakes the loop so the condition is checked often
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!done() && std::chrono::steady_clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    return done();
  }

  // Runs the loop for `seconds` of wall time.
  void run_for(double seconds) {
    run_until([] { return false; }, seconds);
  }

 private:
  uv_loop_t loop_{};
};

}  // namespace hm::dht::testing
