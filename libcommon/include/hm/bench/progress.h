// Progress: a one-line progress bar on stderr for runs that take a while.
//
// Nothing is drawn during the first `delay` (2 s by default), so short runs
// stay silent; then a background thread redraws the line five times a
// second (a ProgressLine) until finish() or the destructor erases it. Disabled
// (and free) when stderr is not a terminal or the caller turns it off.
//
// Threads: add() from any thread (one atomic add); construct, finish() and
// destroy from one owner thread. Ownership: owns its drawing thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace hm::bench {

// "label [#######.............]  35/100  2.1 s" fitting in `width` columns
// (the bar shrinks; at least the counts are shown). `total` 0 = unknown
// (no bar, just the count).
std::string format_progress(const std::string& label, uint64_t done, uint64_t total,
                            double elapsed_s, size_t width = 72);

class Progress {
 public:
  // `enabled` false: draws nothing. Otherwise draws only when stderr is a
  // terminal.
  Progress(std::string label, uint64_t total, bool enabled = true,
           std::chrono::milliseconds delay = std::chrono::seconds(2));
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void add(uint64_t n = 1) { done_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t done() const { return done_.load(std::memory_order_relaxed); }

  // Stops drawing and erases the line. Idempotent.
  void finish();

 private:
  void draw_loop();

  std::string label_;
  uint64_t total_;
  std::chrono::milliseconds delay_;
  std::atomic<uint64_t> done_{0};
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hm::bench
