// An hm::io::EventLoop for DHT tests: run it until a condition holds or a
// promise resolves, bounded in wall-clock time.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>

#include "hm/io/event_loop.h"

namespace hm::dht::testing {

class LoopTest : public ::testing::Test {
 protected:
  io::EventLoop& event_loop() { return loop_; }
  uv_loop_t* loop() { return loop_.uv(); }

  // Runs the loop until `done()` or `seconds` pass; returns done().
  bool run_until(const std::function<bool()>& done, double seconds = 10) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      loop_.wait(loop_.timer().afterDelay(2 * kj::MILLISECONDS));
    }
    return done();
  }

  // Runs the loop for `seconds` of wall time.
  void run_for(double seconds) {
    run_until([] { return false; }, seconds);
  }

  // The promise's value, or nullopt when it did not resolve within
  // `seconds` (a rejection fails the test and also gives nullopt).
  template <typename T>
  std::optional<T> settle(kj::Promise<T> promise, double seconds = 30) {
    std::optional<T> value;
    bool settled = false;
    auto watched = promise.then([&](T v) { value = std::move(v); },
                                [&](kj::Exception&& e) {
                                  ADD_FAILURE() << e.getDescription().cStr();
                                })
                       .then([&] { settled = true; })
                       .eagerlyEvaluate(nullptr);
    run_until([&] { return settled; }, seconds);
    EXPECT_TRUE(settled) << "no result within " << seconds << " s";
    return value;
  }

  // "" when the promise resolves within `seconds`, else the rejection's
  // description (or "timed out").
  std::string error_of(kj::Promise<void> promise, double seconds = 30) {
    std::optional<std::string> error;
    auto watched = promise.then([&] { error = ""; },
                                [&](kj::Exception&& e) { error = e.getDescription().cStr(); })
                       .eagerlyEvaluate(nullptr);
    run_until([&] { return error.has_value(); }, seconds);
    return error.value_or("timed out");
  }

 private:
  io::EventLoop loop_;
};

}  // namespace hm::dht::testing
