// Timer: RAII over uv_timer_t.
//
// The callback is fixed at construction; start() arms the timer (once, or
// repeating), stop() disarms it. Restarting replaces the previous schedule.
//
// Threads: everything on the loop thread; the callback runs there.
// Lifetime: the destructor stops and closes the handle; its memory is
// released only in libuv's close callback, so a Timer may be destroyed from
// inside its own callback (the callback must then not touch its owner).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>

namespace hm::io {

class Timer {
 public:
  // Throws hm::Error when libuv refuses the handle.
  Timer(uv_loop_t* loop, std::function<void()> on_fire);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Fires after `timeout_ms`, then every `repeat_ms` when that is not 0.
  void start(uint64_t timeout_ms, uint64_t repeat_ms = 0);
  void stop();
  bool active() const;

 private:
  struct Impl;
  Impl* impl_;  // freed in the close callback
};

// The io wrappers call this after starting a handle. Under hm::io::EventLoop
// it re-arms the kj bridge (whose wait depends on libuv's next timeout) when
// `loop` is that EventLoop's loop; on a bare uv loop it does nothing.
void notify_handle_started(uv_loop_t* loop);

}  // namespace hm::io
