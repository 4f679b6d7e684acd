#include "hm/io/busy_poll.h"

#include <atomic>

#include "hm/base/error.h"

namespace hm::io {
namespace {
std::atomic<int64_t> window_us{0};
}  // namespace

void set_busy_poll(std::chrono::microseconds window) {
  require(window.count() >= 0 && window <= kMaxBusyPoll,
          "--busy-poll must be between 0 and {} microseconds", kMaxBusyPoll.count());
  window_us.store(window.count(), std::memory_order_relaxed);
}

std::chrono::microseconds busy_poll_window() {
  return std::chrono::microseconds(window_us.load(std::memory_order_relaxed));
}

}  // namespace hm::io
