// SignalWatcher: RAII over uv_signal_t, for SIGINT/SIGTERM handling on a
// plain libuv loop (processes under hm::io::EventLoop use its kj signal
// support instead).
//
// Threads: everything on the loop thread; the callback runs there with the
// signal number.
// Lifetime: the destructor stops and closes the handle; its memory is
// released only in libuv's close callback.
#pragma once

#include <uv.h>

#include <functional>

namespace hm::io {

class SignalWatcher {
 public:
  // Throws hm::Error when libuv refuses the handle.
  SignalWatcher(uv_loop_t* loop, std::function<void(int signum)> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // Watches `signum` (replacing a previous one). Throws hm::Error on failure.
  void start(int signum);
  void stop();

 private:
  struct Impl;
  Impl* impl_;  // freed in the close callback
};

}  // namespace hm::io
