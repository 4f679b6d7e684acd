#include "hm/io/signals.h"

#include "hm/base/error.h"
#include "hm/io/uv_timer.h"

namespace hm::io {

struct SignalWatcher::Impl {
  uv_signal_t handle{};
  std::function<void(int)> on_signal;
};

SignalWatcher::SignalWatcher(uv_loop_t* loop, std::function<void(int)> on_signal)
    : impl_(new Impl) {
  impl_->on_signal = std::move(on_signal);
  int rc = uv_signal_init(loop, &impl_->handle);
  if (rc != 0) {
    delete impl_;
    fail("cannot watch signals: {}", uv_strerror(rc));
  }
  impl_->handle.data = impl_;
}

SignalWatcher::~SignalWatcher() {
  uv_handle_t* handle = reinterpret_cast<uv_handle_t*>(&impl_->handle);
  if (uv_is_closing(handle)) return;
  uv_close(handle, [](uv_handle_t* h) { delete static_cast<Impl*>(h->data); });
}

void SignalWatcher::start(int signum) {
  int rc = uv_signal_start(
      &impl_->handle,
      [](uv_signal_t* h, int signum) { static_cast<Impl*>(h->data)->on_signal(signum); },
      signum);
  if (rc != 0) fail("cannot watch signal {}: {}", signum, uv_strerror(rc));
  notify_handle_started(impl_->handle.loop);
}

void SignalWatcher::stop() { uv_signal_stop(&impl_->handle); }

}  // namespace hm::io
