#include "hm/base/metrics.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "hm/base/error.h"

namespace hm::metrics {
namespace {

// The message of the hm::Error that `fn` throws ("" when it throws none).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Metrics, RendersASmallRegistryExactly) {
  Registry registry;
  auto& calls = registry.counter("hm_calls_total", "Calls served.", {"method", "outcome"});
  calls.with({"forward", "ok"}).inc(3);
  calls.with({"backward", "ok"}).inc(0.5);
  registry.gauge("hm_queue_rows", "Rows waiting.").only().set(-2);
  auto& seconds = registry.histogram("hm_call_seconds", "Call time.", {}, {0.5, 1});
  seconds.only().observe(0.25);
  seconds.only().observe(1);
  seconds.only().observe(3);
  EXPECT_EQ(registry.render(),
            "# HELP hm_calls_total Calls served.\n"
            "# TYPE hm_calls_total counter\n"
            "hm_calls_total{method=\"backward\",outcome=\"ok\"} 0.5\n"
            "hm_calls_total{method=\"forward\",outcome=\"ok\"} 3\n"
            "# HELP hm_queue_rows Rows waiting.\n"
            "# TYPE hm_queue_rows gauge\n"
            "hm_queue_rows -2\n"
            "# HELP hm_call_seconds Call time.\n"
            "# TYPE hm_call_seconds histogram\n"
            "hm_call_seconds_bucket{le=\"0.5\"} 1\n"
            "hm_call_seconds_bucket{le=\"1\"} 2\n"
            "hm_call_seconds_bucket{le=\"+Inf\"} 3\n"
            "hm_call_seconds_sum 4.25\n"
            "hm_call_seconds_count 3\n");
}

TEST(Metrics, HistogramLabelsComeBeforeLe) {
  Registry registry;
  registry.histogram("hm_rows", "Rows.", {"uid"}, {2}).with({"a.0"}).observe(2);
  EXPECT_EQ(registry.render(),
            "# HELP hm_rows Rows.\n"
            "# TYPE hm_rows histogram\n"
            "hm_rows_bucket{uid=\"a.0\",le=\"2\"} 1\n"
            "hm_rows_bucket{uid=\"a.0\",le=\"+Inf\"} 1\n"
            "hm_rows_sum{uid=\"a.0\"} 2\n"
            "hm_rows_count{uid=\"a.0\"} 1\n");
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Registry registry;
  registry.counter("hm_x_total", "a \\ b \"q\"\nnext line", {"v"})
      .with({"back\\slash \"quoted\"\nnewline"})
      .inc();
  EXPECT_EQ(registry.render(),
            "# HELP hm_x_total a \\\\ b \"q\"\\nnext line\n"
            "# TYPE hm_x_total counter\n"
            "hm_x_total{v=\"back\\\\slash \\\"quoted\\\"\\nnewline\"} 1\n");
}

TEST(Metrics, FormatsValuesLikeTheTextFormat) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(-7), "-7");
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(-0.0), "0");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(0.005), "0.005");
  EXPECT_EQ(format_value(123456789012), "123456789012");
  EXPECT_EQ(std::stod(format_value(1e20)), 1e20);
  EXPECT_EQ(std::stod(format_value(1.0 / 3)), 1.0 / 3);
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(Metrics, RendersInfinityAndNaNSamples) {
  Registry registry;
  auto& g = registry.gauge("hm_g", "G.", {"k"});
  g.with({"inf"}).set(std::numeric_limits<double>::infinity());
  g.with({"nan"}).set(std::nan(""));
  g.with({"neg"}).set(-std::numeric_limits<double>::infinity());
  EXPECT_EQ(registry.render(),
            "# HELP hm_g G.\n# TYPE hm_g gauge\n"
            "hm_g{k=\"inf\"} +Inf\nhm_g{k=\"nan\"} NaN\nhm_g{k=\"neg\"} -Inf\n");
}

TEST(Metrics, FamilyWithoutLabelsStartsAtZeroWithLabelsEmpty) {
  Registry registry;
  registry.counter("hm_a_total", "A.");
  registry.counter("hm_b_total", "B.", {"kind"});
  registry.histogram("hm_c", "C.", {}, {1});
  EXPECT_EQ(registry.render(),
            "# HELP hm_a_total A.\n# TYPE hm_a_total counter\nhm_a_total 0\n"
            "# HELP hm_b_total B.\n# TYPE hm_b_total counter\n"
            "# HELP hm_c C.\n# TYPE hm_c histogram\n"
            "hm_c_bucket{le=\"1\"} 0\nhm_c_bucket{le=\"+Inf\"} 0\nhm_c_sum 0\nhm_c_count 0\n");
}

TEST(Metrics, RegisteringAgainReturnsTheSameFamily) {
  Registry registry;
  auto& first = registry.counter("hm_x_total", "X.", {"uid"});
  auto& again = registry.counter("hm_x_total", "other help", {"uid"});
  EXPECT_EQ(&first, &again);
  EXPECT_EQ(&first.with({"a"}), &again.with({"a"}));
  auto& h = registry.histogram("hm_h", "H.", {}, {1, 2});
  EXPECT_EQ(&h, &registry.histogram("hm_h", "H.", {}, {1, 2}));
}

TEST(Metrics, ConflictingRegistrationThrowsNamingTheMetric) {
  Registry registry;
  registry.counter("hm_x_total", "X.", {"uid"});
  EXPECT_EQ(error_of([&] { registry.gauge("hm_x_total", "X."); }),
            "metric hm_x_total: registered as a counter, now asked for as a gauge");
  EXPECT_EQ(error_of([&] { registry.counter("hm_x_total", "X.", {"uid", "method"}); }),
            "metric hm_x_total: registered with labels (uid), now asked for with (uid, method)");
  registry.histogram("hm_h", "H.", {}, {1, 2});
  EXPECT_NE(error_of([&] { registry.histogram("hm_h", "H.", {}, {1, 3}); }).find("hm_h"),
            std::string::npos);
}

TEST(Metrics, BadNamesThrow) {
  Registry registry;
  EXPECT_NE(error_of([&] { registry.counter("9lives", "."); }).find("'9lives'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { registry.counter("", "."); }), "");
  EXPECT_NE(error_of([&] { registry.counter("hm-x", "."); }).find("'hm-x'"), std::string::npos);
  EXPECT_EQ(error_of([&] { registry.counter("hm:x_total", "."); }), "");  // colons are fine
  EXPECT_NE(error_of([&] { registry.counter("hm_y", ".", {"a:b"}); }).find("'a:b'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { registry.counter("hm_y", ".", {"__x"}); }).find("'__x'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { registry.counter("hm_y", ".", {"a", "a"}); }).find("'a'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { registry.histogram("hm_y", ".", {"le"}, {1}); }).find("le"),
            std::string::npos);
  EXPECT_NE(error_of([&] { registry.histogram("hm_y", ".", {}, {2, 1}); }).find("ascend"),
            std::string::npos);
  EXPECT_NE(error_of([&] { registry.histogram("hm_y", ".", {}, {std::nan("")}); }), "");
  // A last +Inf bound is implicit anyway.
  auto& h = registry.histogram("hm_z", ".", {}, {1, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(h.bounds(), std::vector<double>{1});
}

TEST(Metrics, WrongLabelCountThrows) {
  Registry registry;
  auto& family = registry.counter("hm_x_total", "X.", {"uid", "method", "outcome"});
  EXPECT_EQ(error_of([&] { family.with({"a", "b"}); }),
            "metric hm_x_total: 2 label values for 3 labels (uid, method, outcome)");
  EXPECT_EQ(error_of([&] { family.only(); }),
            "metric hm_x_total: 0 label values for 3 labels (uid, method, outcome)");
  EXPECT_EQ(error_of([&] { registry.gauge("hm_g", "G.").with({"x"}); }),
            "metric hm_g: 1 label values for 0 labels ()");
}

TEST(Metrics, CountersOnlyGoUp) {
  Counter c;
  c.inc();
  c.inc(2.5);
  c.inc(-1);
  c.inc(std::nan(""));
  EXPECT_EQ(c.value(), 3.5);
  c.advance_to(10);
  EXPECT_EQ(c.value(), 10);
  c.advance_to(4);
  EXPECT_EQ(c.value(), 10);
  c.advance_to(std::nan(""));
  EXPECT_EQ(c.value(), 10);
}

TEST(Metrics, GaugesGoBothWays) {
  Gauge g;
  g.set(5);
  g.add(-7.5);
  EXPECT_EQ(g.value(), -2.5);
}

TEST(Metrics, HistogramBoundsAreInclusive) {
  Histogram h({1, 2, 4});
  for (double v : {0.5, 1.0, 1.5, 2.0, 4.0, 4.5, 100.0}) h.observe(v);
  auto s = h.snapshot();
  EXPECT_EQ(s.bounds, (std::vector<double>{1, 2, 4}));
  EXPECT_EQ(s.counts, (std::vector<uint64_t>{2, 2, 1, 2}));
  EXPECT_EQ(s.count, 7u);
  EXPECT_EQ(s.sum, 113.5);
}

TEST(Metrics, Buckets) {
  EXPECT_EQ(exponential_buckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_NE(error_of([] { exponential_buckets(0, 2, 4); }), "");
  EXPECT_NE(error_of([] { exponential_buckets(1, 1, 4); }), "");
  EXPECT_NE(error_of([] { exponential_buckets(1, 2, 0); }), "");
  EXPECT_NE(error_of([] { exponential_buckets(1, 1e300, 4); }).find("overflows"),
            std::string::npos);
  EXPECT_EQ(default_seconds_buckets(),
            (std::vector<double>{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}));
}

TEST(Metrics, CollectorsRunOnRenderUntilRemoved) {
  Registry registry;
  auto& gauge = registry.gauge("hm_g", "G.").only();
  int runs = 0;
  uint64_t id = registry.add_collector([&] { gauge.set(++runs); });
  EXPECT_NE(registry.render().find("hm_g 1\n"), std::string::npos);
  EXPECT_NE(registry.render().find("hm_g 2\n"), std::string::npos);
  registry.remove_collector(id);
  registry.render();
  EXPECT_EQ(runs, 2);
  registry.remove_collector(id);  // unknown now: ignored
}

TEST(Metrics, ThrowingCollectorDoesNotStopRendering) {
  Registry registry;
  auto& gauge = registry.gauge("hm_g", "G.").only();
  registry.add_collector([] { throw Error("state gone"); });
  registry.add_collector([] { throw 42; });
  registry.add_collector([&] { gauge.set(7); });
  EXPECT_NE(registry.render().find("hm_g 7\n"), std::string::npos);
}

TEST(Metrics, CollectorMayRemoveItselfOrAnother) {
  Registry registry;
  int second_runs = 0;
  uint64_t second = 0;
  uint64_t first = 0;
  first = registry.add_collector([&] {
    registry.remove_collector(first);
    registry.remove_collector(second);
  });
  second = registry.add_collector([&] { ++second_runs; });
  registry.render();
  registry.render();
  EXPECT_EQ(second_runs, 0);
}

TEST(Metrics, CollectorHandleRemovesOnDestruction) {
  Registry registry;
  int runs = 0;
  {
    CollectorHandle handle(registry, [&] { ++runs; });
    registry.render();
    CollectorHandle moved = std::move(handle);
    registry.render();
  }
  registry.render();
  EXPECT_EQ(runs, 2);
  CollectorHandle empty;
  empty.reset();
}

TEST(Metrics, ConcurrentUpdatesWhileRenderingAreExact) {
  Registry registry;
  auto& counter = registry.counter("hm_n_total", "N.", {"thread"});
  auto& histogram = registry.histogram("hm_v", "V.", {}, {10, 100});
  std::atomic<bool> done = false;
  int renders = 0;
  std::thread renderer([&] {
    while (!done.load() && renders < 100000) {
      registry.render();
      ++renders;
    }
  });
  constexpr int kThreads = 4, kEach = 100000;
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      auto& shared = counter.with({"all"});
      auto& own = counter.with({std::to_string(t)});
      for (int i = 0; i < kEach; ++i) {
        shared.inc();
        own.inc();
        histogram.only().observe(i % 200);
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  renderer.join();
  EXPECT_GT(renders, 0);
  EXPECT_EQ(counter.with({"all"}).value(), kThreads * kEach);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(counter.with({std::to_string(t)}).value(), kEach);
  auto s = histogram.only().snapshot();
  EXPECT_EQ(s.count, uint64_t{kThreads} * kEach);
  // Per thread, i % 200 in 0..10 (11 values), 11..100 (90), 101..199 (99), 500 times each.
  EXPECT_EQ(s.counts, (std::vector<uint64_t>{kThreads * 11 * 500, kThreads * 90 * 500,
                                             kThreads * 99 * 500}));
  EXPECT_EQ(s.sum, double{kThreads} * 500 * (199 * 200 / 2));
}

TEST(Metrics, DefaultRegistryIsOne) { EXPECT_EQ(&default_registry(), &default_registry()); }

}  // namespace
}  // namespace hm::metrics
