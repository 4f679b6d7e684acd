// LoopThread: an EventLoop running on a background thread, for clients
// (hm-call, hm-moe, hm-bench) whose main thread does other work.
//
// Threads: construct and destroy from one owner thread; post() and call()
// from any thread. The destructor stops the loop and joins the thread; work
// still queued is dropped and pending futures get an error.
#pragma once

#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>

#include <kj/async.h>

#include "hm/base/error.h"
#include "hm/io/event_loop.h"

namespace hm::io {

class LoopThread {
 public:
  LoopThread();
  ~LoopThread();
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  // Runs `fn` on the loop thread.
  void post(std::function<void()> fn) { loop_->post(std::move(fn)); }

  // Runs `fn(loop)` on the loop thread. `fn` returns kj::Promise<T>; the
  // future gets its value, or an hm::Error carrying the kj exception's
  // description (or the std::exception `fn` threw).
  template <typename T, typename F>
  std::future<T> call(F fn) {
    auto result = std::make_shared<std::promise<T>>();
    auto future = result->get_future();
    loop_->post([this, fn = std::move(fn), result]() mutable {
      kj::Promise<T> promise = nullptr;
      try {
        promise = fn(*loop_);
      } catch (...) {
        result->set_exception(std::current_exception());
        return;
      }
      loop_->detach(promise.then(
          [result](T value) { result->set_value(std::move(value)); },
          [result](kj::Exception&& e) {
            result->set_exception(std::make_exception_ptr(
                Error(std::string(e.getDescription().cStr()))));
          }));
    });
    return future;
  }

  EventLoop& loop() { return *loop_; }

 private:
  EventLoop* loop_ = nullptr;
  std::thread thread_;
};

}  // namespace hm::io
