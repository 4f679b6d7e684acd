// The kj <-> libuv bridge (see event_loop.h for the design). RPC round trips
// do not pay for it: kj polls its own sockets directly, and only libuv's one
// backend fd is added to its epoll set.
#include "hm/io/event_loop.h"

#include <poll.h>
#include <signal.h>

#include <chrono>
#include <deque>
#include <mutex>

#include <kj/async-unix.h>
#include <kj/debug.h>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/io/busy_poll.h"
#include "hm/io/signals.h"

namespace hm::io {
namespace {

thread_local EventLoop* current_loop = nullptr;

class LoggingErrorHandler : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&& exception) override {
    spdlog::error("background task failed: {}", exception.getDescription().cStr());
  }
};

bool fd_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

}  // namespace

struct EventLoop::State {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  uv_loop_t uv{};
  uv_async_t wakeup{};
  LoggingErrorHandler error_handler;
  kj::TaskSet tasks{error_handler};

  std::mutex mutex;  // guards posted and stop_requested
  std::deque<std::function<void()>> posted;
  bool stop_requested = false;

  kj::Maybe<kj::UnixEventPort::FdObserver> observer;
  kj::Own<kj::PromiseFulfiller<void>> rearm_fulfiller;
  kj::Own<kj::PromiseFulfiller<void>> stop_fulfiller;
  kj::Promise<void> bridge = nullptr;
  kj::Own<kj::PromiseFulfiller<int>> signal_fulfiller;
  std::vector<std::unique_ptr<SignalWatcher>> signal_watchers;

  // Busy polling: while `poller` runs, the event queue is never empty, so
  // kj never sleeps in epoll_wait, and a busy-poll interval of 0 makes it
  // poll its descriptors (epoll_wait with no timeout) between every two
  // events. The poller is one yield per turn, at the back of the queue.
  std::chrono::steady_clock::time_point poll_until;
  bool polling = false;
  kj::Promise<void> poller = nullptr;

  void expect_soon() {
    const auto window = busy_poll_window();
    if (window.count() == 0) return;
    poll_until = std::chrono::steady_clock::now() + window;
    if (polling) return;
    polling = true;
    io.waitScope.setBusyPollInterval(0);
    poller = poll_for_events().eagerlyEvaluate(nullptr);
  }

  kj::Promise<void> poll_for_events() {
    if (std::chrono::steady_clock::now() >= poll_until) {
      polling = false;
      io.waitScope.setBusyPollInterval(kj::maxValue);
      return kj::READY_NOW;
    }
    return kj::evalLater([this] { return poll_for_events(); });
  }

  // Runs libuv once without blocking, then waits for whichever comes first:
  // libuv's fd turning readable, libuv's next timer, or rearm().
  kj::Promise<void> pump() {
    uv_run(&uv, UV_RUN_NOWAIT);
    int timeout_ms = uv_backend_timeout(&uv);
    // libuv's handles are level-triggered but kj watches its epoll fd
    // edge-triggered: work left over after one pass must not wait for the
    // next edge, so come back at once (through the timer, which lets kj poll
    // its own sockets first; evalLater would starve them).
    if (timeout_ms != 0 && fd_readable(uv_backend_fd(&uv))) timeout_ms = 0;

    auto paf = kj::newPromiseAndFulfiller<void>();
    rearm_fulfiller = kj::mv(paf.fulfiller);
    auto& fd_observer = KJ_ASSERT_NONNULL(observer);
    kj::Promise<void> wake =
        fd_observer.whenBecomesReadable().exclusiveJoin(kj::mv(paf.promise));
    if (timeout_ms >= 0) {
      wake = kj::mv(wake).exclusiveJoin(
          io.provider->getTimer().afterDelay(timeout_ms * kj::MILLISECONDS));
    }
    return wake.then([this] { return pump(); });
  }

  void drain_posted() {
    std::deque<std::function<void()>> batch;
    bool stop = false;
    {
      std::lock_guard lock(mutex);
      batch.swap(posted);
      stop = stop_requested;
    }
    for (auto& fn : batch) {
      try {
        fn();
      } catch (const std::exception& e) {
        spdlog::error("posted task failed: {}", e.what());
      }
    }
    if (stop && stop_fulfiller && stop_fulfiller->isWaiting()) stop_fulfiller->fulfill();
  }
};

EventLoop::EventLoop() : state_(std::make_unique<State>()) {
  require(current_loop == nullptr, "an EventLoop already runs on this thread");
  int rc = uv_loop_init(&state_->uv);
  if (rc != 0) fail("cannot start the event loop: {}", uv_strerror(rc));
  state_->uv.data = this;
  state_->wakeup.data = state_.get();
  uv_async_init(&state_->uv, &state_->wakeup, [](uv_async_t* handle) {
    static_cast<State*>(handle->data)->drain_posted();
  });
  state_->observer.emplace(state_->io.unixEventPort, uv_backend_fd(&state_->uv),
                           kj::UnixEventPort::FdObserver::OBSERVE_READ);
  state_->bridge = state_->pump().eagerlyEvaluate([](kj::Exception&& e) {
    spdlog::critical("event loop bridge failed: {}", e.getDescription().cStr());
  });
  current_loop = this;
}

EventLoop::~EventLoop() {
  current_loop = nullptr;
  state_->poller = nullptr;
  state_->signal_watchers.clear();
  state_->bridge = nullptr;
  state_->observer = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&state_->wakeup), nullptr);
  // Close whatever the owner left open, then let every close callback run.
  for (int round = 0; round < 100 && uv_loop_close(&state_->uv) == UV_EBUSY; ++round) {
    uv_walk(&state_->uv, [](uv_handle_t* handle, void*) {
      if (!uv_is_closing(handle)) uv_close(handle, nullptr);
    }, nullptr);
    uv_run(&state_->uv, UV_RUN_NOWAIT);
  }
}

uv_loop_t* EventLoop::uv() { return &state_->uv; }
kj::AsyncIoProvider& EventLoop::provider() { return *state_->io.provider; }
kj::LowLevelAsyncIoProvider& EventLoop::low_level() { return *state_->io.lowLevelProvider; }
kj::WaitScope& EventLoop::wait_scope() { return state_->io.waitScope; }
kj::Timer& EventLoop::timer() { return state_->io.provider->getTimer(); }

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stop_requested) return;
    state_->posted.push_back(std::move(fn));
  }
  uv_async_send(&state_->wakeup);
}

void EventLoop::rearm() {
  if (state_->rearm_fulfiller && state_->rearm_fulfiller->isWaiting()) {
    state_->rearm_fulfiller->fulfill();
  }
}

void EventLoop::expect_soon() { state_->expect_soon(); }

void EventLoop::detach(kj::Promise<void>&& promise) { state_->tasks.add(kj::mv(promise)); }

void EventLoop::run() {
  auto paf = kj::newPromiseAndFulfiller<void>();
  state_->stop_fulfiller = kj::mv(paf.fulfiller);
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stop_requested) return;
  }
  paf.promise.wait(state_->io.waitScope);
}

void EventLoop::stop() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stop_requested = true;
  }
  uv_async_send(&state_->wakeup);
}

kj::Promise<int> EventLoop::termination_signal() {
  auto paf = kj::newPromiseAndFulfiller<int>();
  state_->signal_fulfiller = kj::mv(paf.fulfiller);
  auto on_signal = [state = state_.get()](int signum) {
    if (state->signal_fulfiller && state->signal_fulfiller->isWaiting()) {
      state->signal_fulfiller->fulfill(kj::cp(signum));
    }
  };
  state_->signal_watchers.clear();
  for (int signum : {SIGINT, SIGTERM}) {
    state_->signal_watchers.push_back(std::make_unique<SignalWatcher>(&state_->uv, on_signal));
    state_->signal_watchers.back()->start(signum);
  }
  rearm();
  return kj::mv(paf.promise);
}

EventLoop* EventLoop::current() { return current_loop; }

void expect_soon() {
  if (current_loop != nullptr) current_loop->expect_soon();
}

}  // namespace hm::io
