#include "hm/io/uv_timer.h"

#include "hm/base/error.h"
#include "hm/io/event_loop.h"

namespace hm::io {

void notify_handle_started(uv_loop_t* loop) {
  EventLoop* event_loop = EventLoop::current();
  if (event_loop != nullptr && event_loop->uv() == loop) event_loop->rearm();
}

struct Timer::Impl {
  uv_timer_t handle{};
  std::function<void()> on_fire;
};

Timer::Timer(uv_loop_t* loop, std::function<void()> on_fire) : impl_(new Impl) {
  impl_->on_fire = std::move(on_fire);
  int rc = uv_timer_init(loop, &impl_->handle);
  if (rc != 0) {
    delete impl_;
    fail("cannot create a timer: {}", uv_strerror(rc));
  }
  impl_->handle.data = impl_;
}

Timer::~Timer() {
  uv_handle_t* handle = reinterpret_cast<uv_handle_t*>(&impl_->handle);
  if (uv_is_closing(handle)) return;  // closed behind our back (loop teardown)
  uv_close(handle, [](uv_handle_t* h) { delete static_cast<Impl*>(h->data); });
}

void Timer::start(uint64_t timeout_ms, uint64_t repeat_ms) {
  uv_timer_start(
      &impl_->handle,
      [](uv_timer_t* h) { static_cast<Impl*>(h->data)->on_fire(); },
      timeout_ms, repeat_ms);
  notify_handle_started(impl_->handle.loop);
}

void Timer::stop() { uv_timer_stop(&impl_->handle); }

bool Timer::active() const {
  return uv_is_active(reinterpret_cast<const uv_handle_t*>(&impl_->handle)) != 0;
}

}  // namespace hm::io
