// RefusalLog: logs what a server refuses (connections, calls, datagrams)
// without letting a flood flood the log. The first refusal of a period is
// logged in full at once; the ones that follow within `period` are only
// counted, and summarized in one line ("refused 49999 more DHT requests in
// 1.0 s") by the first refusal after the period, by flush(), or by the
// destructor. So a flood costs about two log lines a second.
//
// Threads: one thread (the loop's); not copyable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <spdlog/spdlog.h>

namespace hm {

class RefusalLog {
 public:
  // `things` names what is refused, plural ("DHT requests", "connections").
  explicit RefusalLog(std::string things,
                      std::chrono::milliseconds period = std::chrono::seconds(1))
      : things_(std::move(things)), period_(period) {}
  ~RefusalLog() { flush(); }
  RefusalLog(const RefusalLog&) = delete;
  RefusalLog& operator=(const RefusalLog&) = delete;

  // Records one refusal. `describe()` returns the full line ("refused a DHT
  // request from 1.2.3.4:5: over 2000 requests/s (--dht-max-rps)"); it is
  // called only when the line is logged, so a suppressed refusal costs a
  // clock read and an increment.
  template <typename Describe>
  void refused(Describe&& describe) {
    ++total_;
    auto now = std::chrono::steady_clock::now();
    if (logged_once_ && now - period_start_ < period_) {
      ++suppressed_;
      return;
    }
    flush();
    logged_once_ = true;
    period_start_ = now;
    spdlog::warn("{}", describe());
  }

  // Logs the summary of the refusals counted since the last full line.
  void flush() {
    if (suppressed_ == 0) return;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                   period_start_).count();
    spdlog::warn("refused {} more {} in {:.1f} s (logged once per {} ms)", suppressed_, things_,
                 seconds, period_.count());
    suppressed_ = 0;
  }

  uint64_t total() const { return total_; }

 private:
  std::string things_;
  std::chrono::milliseconds period_;
  std::chrono::steady_clock::time_point period_start_{};
  bool logged_once_ = false;
  uint64_t suppressed_ = 0;
  uint64_t total_ = 0;
};

}  // namespace hm
