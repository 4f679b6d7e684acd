// EventLoop: the one networking thread of a process, where libuv and
// Cap'n Proto RPC share a thread.
//
// The bridge: kj's UnixEventPort is the poll loop. It observes libuv's
// backend fd (an epoll fd that turns readable when any uv handle has work)
// and calls uv_run(UV_RUN_NOWAIT) when that fd is readable or when
// uv_backend_timeout() expires. Anything that starts a uv handle from the kj
// side calls rearm() (post() and the io wrappers do it) so the bridge
// recomputes its timeout. The bridge never reschedules itself with
// evalLater (that would starve RPC).
//
// Threads: construct, run and destroy an EventLoop on one thread (the loop
// thread). Only post() and stop() may be called from other threads.
// Ownership: the EventLoop owns the uv loop and the kj async-io context;
// every uv handle made on it must be closed before it is destroyed (the
// destructor runs the uv loop until every handle's close callback ran).
#pragma once

#include <functional>
#include <memory>

#include <kj/async-io.h>
#include <kj/timer.h>
#include <uv.h>

namespace hm::io {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  uv_loop_t* uv();
  kj::AsyncIoProvider& provider();
  kj::LowLevelAsyncIoProvider& low_level();
  kj::WaitScope& wait_scope();
  kj::Timer& timer();

  // Runs `fn` on the loop thread soon (FIFO). Any thread. After stop() the
  // function is dropped without being run.
  void post(std::function<void()> fn);

  // Loop thread: recompute the bridge's wait after starting a uv handle or
  // timer from kj code.
  void rearm();

  // Loop thread: an event is expected soon (the reply to a request just
  // sent, the result of a task just handed to another thread). With busy
  // polling on (hm/io/busy_poll.h), the loop polls for events instead of
  // sleeping until one window has passed since the last call; otherwise
  // nothing happens.
  void expect_soon();

  // Loop thread: serve kj and uv events until stop() is called.
  void run();

  // Loop thread: serve events until `promise` resolves, and return its value.
  template <typename T>
  T wait(kj::Promise<T>&& promise) {
    return std::move(promise).wait(wait_scope());
  }

  // Loop thread: keep `promise` running until it resolves or the loop is
  // destroyed; an exception it throws is logged, never lost silently.
  void detach(kj::Promise<void>&& promise);

  // Loop thread: from now on SIGINT and SIGTERM no longer end the process;
  // the promise resolves with the number of the first one that arrives. (A
  // libuv signal handler, so it works whichever thread the kernel picks:
  // libraries such as OpenBLAS start threads before main.)
  kj::Promise<int> termination_signal();

  // Any thread: make run() return.
  void stop();

  // The EventLoop running on the calling thread, or nullptr.
  static EventLoop* current();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// expect_soon() on the EventLoop of the calling thread, if it has one.
void expect_soon();

}  // namespace hm::io
