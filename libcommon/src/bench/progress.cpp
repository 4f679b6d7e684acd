#include "hm/bench/progress.h"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "hm/base/progress_line.h"

namespace hm::bench {

std::string format_progress(const std::string& label, uint64_t done, uint64_t total,
                            double elapsed_s, size_t width) {
  std::string counts = total ? fmt::format("{}/{}", done, total) : fmt::format("{}", done);
  std::string tail = fmt::format("  {}  {:.1f} s", counts, elapsed_s);
  if (total == 0) return label + tail;
  // label + " [" + bar + "]" + tail
  const size_t fixed = label.size() + 3 + tail.size();
  if (fixed + 4 > width) return label + tail;
  const size_t bar = width - fixed;
  const size_t filled = static_cast<size_t>(
      static_cast<double>(bar) * static_cast<double>(std::min(done, total)) /
      static_cast<double>(total));
  return label + " [" + std::string(filled, '#') + std::string(bar - filled, '.') + "]" + tail;
}

Progress::Progress(std::string label, uint64_t total, bool enabled,
                   std::chrono::milliseconds delay)
    : label_(std::move(label)), total_(total), delay_(delay) {
  if (enabled && isatty(STDERR_FILENO)) thread_ = std::thread([this] { draw_loop(); });
}

Progress::~Progress() { finish(); }

void Progress::finish() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Progress::draw_loop() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  if (stop_cv_.wait_for(lock, delay_, [this] { return stopping_; })) return;
  ProgressLine line({.terminal = true});  // erased when it goes
  for (;;) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    line.show(format_progress(label_, done(), total_, elapsed));
    if (stop_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; })) {
      break;
    }
  }
}

}  // namespace hm::bench
