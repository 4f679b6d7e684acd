// Statistics for hm-bench: percentiles, summaries of latency samples, rates,
// and the process's peak memory.
//
// Percentiles use the nearest-rank rule: the q-th percentile of n sorted
// values is the ceil(q/100 * n)-th smallest (the smallest for q = 0), so it is
// always one of the measured values. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace hm::bench {

// Nearest-rank percentile of `sorted` (ascending), q in [0, 100]. Throws
// hm::Error for an empty list or q outside [0, 100].
double percentile(std::span<const double> sorted, double q);

struct Summary {
  size_t count = 0;
  double mean = 0;
  double stddev = 0;  // population standard deviation
  double min = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

// Summary of `values` in any order; all zeros (count 0) for an empty list.
Summary summarize(std::vector<double> values);

// samples / seconds; 0 when no time passed.
double per_second(double samples, double seconds);

// a / b; 0 when b is 0.
double ratio(double a, double b);

// Highest resident set size this process reached, in MiB (getrusage).
double peak_rss_mb();

// CPU seconds (user + system) this process and its waited-for children
// have used so far (getrusage).
double cpu_seconds();

// Resident set size now, in MiB (/proc/self/statm); 0 when unreadable.
double current_rss_mb();

// Seconds on a monotonic clock shared by every process of this machine
// (CLOCK_MONOTONIC), for timestamps that client processes report.
double monotonic_seconds();

}  // namespace hm::bench
