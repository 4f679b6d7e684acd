// RefusalLog: logs what a server refuses (connections, calls, datagrams)
// without letting a flood flood the log, and counts every refusal by the
// limit that refused it (the metric hm_refusals_total{limit="..."}).
//
// The first refusal of a period is logged in full at once; the ones that
// follow within `period` are only counted, and summarized in one line
// ("refused 49999 more DHT requests in 1.0 s") by the first refusal after
// the period, by flush(), or by the destructor. So a flood costs about two
// log lines a second. A logged line carries the fields `limit` and `peer`
// (JSON logs, hm/base/log.h).
//
// A limit is named as its flag without the dashes ("max-connections");
// flag_named_in() finds it in a message that names it ("... (limit 64,
// --max-connections)").
//
// Threads: one thread (the loop's); not copyable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hm/base/log.h"
#include "hm/base/metrics.h"

namespace hm {

// The last flag ("--max-in-flight") a message names, without its dashes
// ("max-in-flight"); empty when it names none.
std::string_view flag_named_in(std::string_view message);

class RefusalLog {
 public:
  // `things` names what is refused, plural ("DHT requests", "connections").
  explicit RefusalLog(std::string things,
                      std::chrono::milliseconds period = std::chrono::seconds(1))
      : things_(std::move(things)), period_(period) {}
  ~RefusalLog() { flush(); }
  RefusalLog(const RefusalLog&) = delete;
  RefusalLog& operator=(const RefusalLog&) = delete;

  // Records one refusal by `limit` (empty: a refusal that is no limit's, such
  // as a malformed request; logged, not counted in the metric).
  // `describe()` returns the full line ("refused a DHT request from
  // 1.2.3.4:5: over 2000 requests/s (--dht-max-rps)") and `peer()` the
  // peer's address, if known; they are called only when the line is logged,
  // so a suppressed refusal costs a clock read and two increments.
  template <typename Describe, typename Peer>
  void refused(std::string_view limit, Describe&& describe, Peer&& peer) {
    ++total_;
    if (!limit.empty()) counter_for(limit).inc();
    auto now = std::chrono::steady_clock::now();
    if (logged_once_ && now - period_start_ < period_) {
      ++suppressed_;
      return;
    }
    flush();
    logged_once_ = true;
    period_start_ = now;
    log_fields(spdlog::level::warn, {{"limit", limit}, {"peer", peer()}}, describe());
  }

  template <typename Describe>
  void refused(std::string_view limit, Describe&& describe) {
    refused(limit, std::forward<Describe>(describe), [] { return std::string(); });
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
  metrics::Counter& counter_for(std::string_view limit);

  std::string things_;
  std::chrono::milliseconds period_;
  std::chrono::steady_clock::time_point period_start_{};
  bool logged_once_ = false;
  uint64_t suppressed_ = 0;
  uint64_t total_ = 0;
  std::vector<std::pair<std::string, metrics::Counter*>> counters_;  // by limit, as met
};

}  // namespace hm
