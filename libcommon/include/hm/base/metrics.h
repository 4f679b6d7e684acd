// Prometheus metrics: counters, gauges and histograms, grouped in families
// (one name, one help text, fixed label names; one child per label values),
// kept in a Registry that renders them in the text exposition format 0.0.4.
//
// Instrumentation asks default_registry() for a family once (registering a
// name again returns the same family) and keeps the child it uses:
//   static auto& calls = metrics::default_registry().counter(
//       "hm_calls_total", "Calls served", {"method"});
//   calls.with({"forward"}).inc();
// --metrics (hm/io/metrics_http.h) serves render() to Prometheus.
//
// Threads: everything may be called from any thread. Updating a value is
// lock-free (atomics); with() takes its family's mutex to find the child;
// render() takes each family's mutex while it prints that family.
// Ownership: the registry owns families and children; the references it
// hands out stay valid for its lifetime (the default registry's: the
// process's). Nothing is ever removed but collectors.
// Errors: registering a bad or conflicting name, or calling with() with the
// wrong number of label values, throws hm::Error naming the metric.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace hm::metrics {

using LabelValues = std::vector<std::string>;  // in the family's label-name order

// A value that only goes up (a count of events, of bytes...).
class Counter {
 public:
  // Adds `amount`; an amount < 0 (or NaN) is ignored: counters only go up.
  void inc(double amount = 1);
  // value = max(value, total): mirrors a cumulative count kept elsewhere.
  void advance_to(double total);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down (a queue length, a loss).
class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double amount);  // may be negative
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into buckets by upper bound (le, inclusive: a value
// equal to a bound lands in that bound's bucket); +Inf is implicit. Keeps
// their sum too. observe() is lock-free.
class Histogram {
 public:
  // `bounds`: ascending, finite (Registry::histogram checks them).
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> counts;  // per bucket, NOT cumulative; bounds.size()+1 (last: +Inf)
    uint64_t count = 0;            // the sum of `counts`
    double sum = 0;
  };
  // The counts as they are now (each read atomically, not all at one instant).
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

namespace detail {

// What a Registry keeps of every family, whatever its type.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  virtual std::string_view type() const = 0;  // "counter", "gauge", "histogram"
  // Appends "# HELP", "# TYPE" and every child's samples to `out`.
  virtual void render(std::string& out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names);
  // Throws hm::Error when `values` does not match label_names().
  void check_values(const LabelValues& values) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
};

}  // namespace detail

// The children of one metric name, one per label values. Made by Registry.
template <typename Metric>
class Family final : public detail::FamilyBase {
 public:
  // The child for these label values, created on first use. The reference
  // stays valid for the registry's lifetime. Throws hm::Error when the number
  // of values differs from the family's label names ("metric hm_x_total: 2
  // label values for 3 labels (uid, method, outcome)").
  Metric& with(const LabelValues& values);
  // For a family without labels: with({}).
  Metric& only() { return with({}); }

  // For Registry. `bounds` only for histograms.
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {});
  std::string_view type() const override;
  void render(std::string& out) const override;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;  // guards children_ (the map, not the values)
  std::map<LabelValues, std::unique_ptr<Metric>> children_;
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Register (or find again) a family. Registering a name again with the
  // same type and label names (and bounds) returns the same family, keeping
  // the first help; a different type, label names or bounds throws hm::Error.
  // Names ([a-zA-Z_:][a-zA-Z0-9_:]*) and label names ([a-zA-Z_][a-zA-Z0-9_]*,
  // not starting with "__", unique, not "le" for a histogram) are refused with
  // hm::Error naming them. A family without labels gets its zero-valued child
  // at once, so it renders from the start.
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  // `bounds`: strictly ascending, no NaN; a last +Inf is dropped (implicit).
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names, std::vector<double> bounds);

  // A collector runs at the start of every render(), on the rendering thread,
  // to refresh gauges/counters from state owned elsewhere. Returns its id.
  uint64_t add_collector(std::function<void()> collect);
  // After this returns the collector is never called again: it waits for a
  // render in progress on another thread (so do not call it while holding a
  // lock the collector takes). Called from inside a collector it returns at
  // once. Unknown ids are ignored.
  void remove_collector(uint64_t id);

  // The whole registry in the text exposition format 0.0.4: per family
  // "# HELP", "# TYPE", then its samples; families in registration order,
  // children in label-value order. Collectors may throw: the failure is
  // logged once per render with spdlog::warn and rendering goes on.
  // Renders run one at a time.
  std::string render();

 private:
  template <typename Metric>
  Family<Metric>& add(const std::string& name, const std::string& help,
                      std::vector<std::string> label_names, std::vector<double> bounds);

  std::mutex families_mutex_;  // guards families_ and by_name_
  std::vector<std::unique_ptr<detail::FamilyBase>> families_;  // in registration order
  std::map<std::string, detail::FamilyBase*, std::less<>> by_name_;

  std::mutex collectors_mutex_;  // guards collectors_ and next_collector_id_
  std::map<uint64_t, std::shared_ptr<std::function<void()>>> collectors_;
  uint64_t next_collector_id_ = 1;

  std::mutex render_mutex_;  // held by the render in progress
  std::atomic<std::thread::id> rendering_thread_{};
};

// The process-wide registry that hm's instrumentation writes to and
// --metrics serves.
Registry& default_registry();

// RAII for add_collector: removes the collector when destroyed (with
// remove_collector's wait). Movable, not copyable; one owner thread.
class CollectorHandle {
 public:
  CollectorHandle() = default;  // holds nothing
  explicit CollectorHandle(std::function<void()> collect);  // on default_registry()
  CollectorHandle(Registry& registry, std::function<void()> collect);
  ~CollectorHandle() { reset(); }
  CollectorHandle(CollectorHandle&& other) noexcept;
  CollectorHandle& operator=(CollectorHandle&& other) noexcept;
  CollectorHandle(const CollectorHandle&) = delete;
  CollectorHandle& operator=(const CollectorHandle&) = delete;

  // Removes the collector now (if any).
  void reset();

 private:
  Registry* registry_ = nullptr;
  uint64_t id_ = 0;
};

// Buckets {start, start*factor, ...}: `count` values. Throws hm::Error on
// start <= 0, factor <= 1, count == 0, or a bound that overflows.
std::vector<double> exponential_buckets(double start, double factor, size_t count);
// The Prometheus clients' default buckets for seconds:
// .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10.
std::vector<double> default_seconds_buckets();

// A sample value as the text format writes it: "3" for integral values,
// the shortest round-trip form otherwise ("2.5", "1e-05"), "+Inf", "-Inf",
// "NaN".
std::string format_value(double value);

}  // namespace hm::metrics
