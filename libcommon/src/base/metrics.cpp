#include "hm/base/metrics.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <iterator>
#include <limits>
#include <utility>

#include <spdlog/spdlog.h>

#include "hm/base/error.h"

namespace hm::metrics {

// ---- values -----------------------------------------------------------------

void Counter::inc(double amount) {
  if (!(amount > 0)) return;  // negative, zero or NaN
  value_.fetch_add(amount, std::memory_order_relaxed);
}

void Counter::advance_to(double total) {
  double current = value_.load(std::memory_order_relaxed);
  while (total > current &&
         !value_.compare_exchange_weak(current, total, std::memory_order_relaxed)) {
  }
}

void Gauge::add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  // The first bound >= value (le is inclusive); NaN and values above every
  // bound go to +Inf.
  size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.counts.resize(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.count += s.counts[i];
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ---- text format ------------------------------------------------------------

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == 0) return "0";  // also -0
  if (value == std::floor(value) && std::fabs(value) < 1e15) return fmt::format("{:.0f}", value);
  return fmt::format("{}", value);
}

namespace {

void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// name{l1="v1",...,extra_name="extra_value"} value
void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const std::vector<std::string>& label_names, const LabelValues& values,
                   std::string_view extra_name, std::string_view extra_value,
                   std::string_view value) {
  out += name;
  out += suffix;
  if (!label_names.empty() || !extra_name.empty()) {
    out += '{';
    bool first = true;
    auto label = [&](std::string_view label_name, std::string_view label_value) {
      if (!first) out += ',';
      first = false;
      out += label_name;
      out += "=\"";
      append_escaped(out, label_value, true);
      out += '"';
    };
    for (size_t i = 0; i < label_names.size(); ++i) label(label_names[i], values[i]);
    if (!extra_name.empty()) label(extra_name, extra_value);
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

void append_header(std::string& out, const detail::FamilyBase& family) {
  out += "# HELP ";
  out += family.name();
  out += ' ';
  append_escaped(out, family.help(), false);
  out += "\n# TYPE ";
  out += family.name();
  out += ' ';
  out += family.type();
  out += '\n';
}

void append_child(std::string& out, const detail::FamilyBase& f, const LabelValues& values,
                  const Counter& counter) {
  append_sample(out, f.name(), "", f.label_names(), values, "", "", format_value(counter.value()));
}

void append_child(std::string& out, const detail::FamilyBase& f, const LabelValues& values,
                  const Gauge& gauge) {
  append_sample(out, f.name(), "", f.label_names(), values, "", "", format_value(gauge.value()));
}

void append_child(std::string& out, const detail::FamilyBase& f, const LabelValues& values,
                  const Histogram& histogram) {
  Histogram::Snapshot s = histogram.snapshot();
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= s.bounds.size(); ++i) {
    cumulative += s.counts[i];
    std::string le = i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf";
    append_sample(out, f.name(), "_bucket", f.label_names(), values, "le", le,
                  fmt::format("{}", cumulative));
  }
  append_sample(out, f.name(), "_sum", f.label_names(), values, "", "", format_value(s.sum));
  append_sample(out, f.name(), "_count", f.label_names(), values, "", "",
                fmt::format("{}", s.count));
}

template <typename Metric>
std::unique_ptr<Metric> make_child(const std::vector<double>& bounds) {
  if constexpr (std::is_same_v<Metric, Histogram>) {
    return std::make_unique<Histogram>(bounds);
  } else {
    return std::make_unique<Metric>();
  }
}

template <typename Metric>
constexpr std::string_view type_name() {
  if constexpr (std::is_same_v<Metric, Counter>) return "counter";
  if constexpr (std::is_same_v<Metric, Gauge>) return "gauge";
  if constexpr (std::is_same_v<Metric, Histogram>) return "histogram";
}

std::string join(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

}  // namespace

// ---- families ---------------------------------------------------------------

namespace detail {

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void FamilyBase::check_values(const LabelValues& values) const {
  if (values.size() != label_names_.size()) {  // (not require: join() would run every time)
    fail("metric {}: {} label values for {} labels ({})", name_, values.size(),
         label_names_.size(), join(label_names_));
  }
}

}  // namespace detail

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> bounds)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bounds)) {
  if (this->label_names().empty()) children_.emplace(LabelValues{}, make_child<Metric>(bounds_));
}

template <typename Metric>
Metric& Family<Metric>::with(const LabelValues& values) {
  check_values(values);
  std::lock_guard lock(mutex_);
  auto found = children_.find(values);
  if (found == children_.end()) {
    found = children_.emplace(values, make_child<Metric>(bounds_)).first;
  }
  return *found->second;
}

template <typename Metric>
std::string_view Family<Metric>::type() const {
  return type_name<Metric>();
}

template <typename Metric>
void Family<Metric>::render(std::string& out) const {
  append_header(out, *this);
  std::lock_guard lock(mutex_);
  for (const auto& [values, child] : children_) append_child(out, *this, values, *child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- registry ---------------------------------------------------------------

namespace {

bool valid_name(std::string_view name, bool colon) {
  auto first = [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  };
  auto rest = [&](char c) { return first(c) || (c >= '0' && c <= '9'); };
  return !name.empty() && first(name[0]) && std::all_of(name.begin() + 1, name.end(), rest);
}

void check_names(const std::string& name, const std::vector<std::string>& label_names,
                 bool histogram) {
  require(valid_name(name, true),
          "bad metric name '{}': expected [a-zA-Z_:][a-zA-Z0-9_:]*", name);
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& label = label_names[i];
    require(valid_name(label, false),
            "metric {}: bad label name '{}': expected [a-zA-Z_][a-zA-Z0-9_]*", name, label);
    require(!label.starts_with("__"), "metric {}: label name '{}' is reserved (starts with __)",
            name, label);
    require(!histogram || label != "le", "metric {}: a histogram cannot have a label named le",
            name);
    require(std::find(label_names.begin(), label_names.begin() + i, label) ==
                label_names.begin() + i,
            "metric {}: label name '{}' given twice", name, label);
  }
}

std::vector<double> check_bounds(const std::string& name, std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) {
    bounds.pop_back();  // +Inf is implicit
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      fail("metric {}: bucket bound {} is not a finite number", name, format_value(bounds[i]));
    }
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      fail("metric {}: bucket bounds must ascend ({} after {})", name, format_value(bounds[i]),
           format_value(bounds[i - 1]));
    }
  }
  return bounds;
}

}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

template <typename Metric>
Family<Metric>& Registry::add(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names, std::vector<double> bounds) {
  constexpr bool kHistogram = std::is_same_v<Metric, Histogram>;
  check_names(name, label_names, kHistogram);
  if constexpr (kHistogram) bounds = check_bounds(name, std::move(bounds));
  std::lock_guard lock(families_mutex_);
  auto found = by_name_.find(name);
  if (found != by_name_.end()) {
    auto* family = dynamic_cast<Family<Metric>*>(found->second);
    require(family != nullptr, "metric {}: registered as a {}, now asked for as a {}", name,
            found->second->type(), type_name<Metric>());
    if (family->label_names() != label_names) {
      fail("metric {}: registered with labels ({}), now asked for with ({})", name,
           join(family->label_names()), join(label_names));
    }
    require(family->bounds() == bounds,
            "metric {}: registered with other bucket bounds", name);
    return *family;
  }
  auto family = std::make_unique<Family<Metric>>(name, help, std::move(label_names),
                                                 std::move(bounds));
  Family<Metric>& result = *family;
  by_name_.emplace(name, family.get());
  families_.push_back(std::move(family));
  return result;
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  return add<Counter>(name, help, std::move(label_names), {});
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  return add<Gauge>(name, help, std::move(label_names), {});
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  return add<Histogram>(name, help, std::move(label_names), std::move(bounds));
}

uint64_t Registry::add_collector(std::function<void()> collect) {
  std::lock_guard lock(collectors_mutex_);
  uint64_t id = next_collector_id_++;
  collectors_.emplace(id, std::make_shared<std::function<void()>>(std::move(collect)));
  return id;
}

void Registry::remove_collector(uint64_t id) {
  {
    std::lock_guard lock(collectors_mutex_);
    collectors_.erase(id);
  }
  // Wait for a render that may be running it right now, unless that render
  // is this very thread's (a collector removing itself or another).
  if (rendering_thread_.load() != std::this_thread::get_id()) {
    std::lock_guard wait(render_mutex_);
  }
}

std::string Registry::render() {
  std::lock_guard render_lock(render_mutex_);
  rendering_thread_.store(std::this_thread::get_id());
  struct Clear {
    std::atomic<std::thread::id>& id;
    ~Clear() { id.store(std::thread::id()); }
  } clear{rendering_thread_};

  std::vector<std::pair<uint64_t, std::shared_ptr<std::function<void()>>>> collectors;
  {
    std::lock_guard lock(collectors_mutex_);
    collectors.assign(collectors_.begin(), collectors_.end());
  }
  size_t failed = 0;
  std::string first_failure;
  for (auto& [id, collect] : collectors) {
    {
      std::lock_guard lock(collectors_mutex_);
      if (!collectors_.contains(id)) continue;  // removed by an earlier collector
    }
    try {
      (*collect)();
    } catch (const std::exception& e) {
      if (failed++ == 0) first_failure = e.what();
    } catch (...) {
      if (failed++ == 0) first_failure = "unknown exception";
    }
  }
  if (failed == 1) spdlog::warn("metrics: a collector failed: {}", first_failure);
  if (failed > 1) {
    spdlog::warn("metrics: {} collectors failed; the first: {}", failed, first_failure);
  }

  std::vector<const detail::FamilyBase*> families;
  {
    std::lock_guard lock(families_mutex_);
    families.reserve(families_.size());
    for (const auto& family : families_) families.push_back(family.get());
  }
  std::string out;
  out.reserve(families.size() * 128);
  for (const auto* family : families) family->render(out);
  return out;
}

Registry& default_registry() {
  static Registry registry;
  return registry;
}

// ---- CollectorHandle --------------------------------------------------------

CollectorHandle::CollectorHandle(std::function<void()> collect)
    : CollectorHandle(default_registry(), std::move(collect)) {}

CollectorHandle::CollectorHandle(Registry& registry, std::function<void()> collect)
    : registry_(&registry), id_(registry.add_collector(std::move(collect))) {}

CollectorHandle::CollectorHandle(CollectorHandle&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), id_(std::exchange(other.id_, 0)) {}

CollectorHandle& CollectorHandle::operator=(CollectorHandle&& other) noexcept {
  if (this != &other) {
    reset();
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

void CollectorHandle::reset() {
  if (registry_ != nullptr) registry_->remove_collector(id_);
  registry_ = nullptr;
  id_ = 0;
}

// ---- buckets ----------------------------------------------------------------

std::vector<double> exponential_buckets(double start, double factor, size_t count) {
  require(start > 0, "exponential buckets: start {} must be > 0", format_value(start));
  require(factor > 1, "exponential buckets: factor {} must be > 1", format_value(factor));
  require(count > 0, "exponential buckets: count must be > 0");
  std::vector<double> bounds;
  bounds.reserve(count);
  double bound = start;
  for (size_t i = 0; i < count; ++i) {
    require(std::isfinite(bound), "exponential buckets: {} * {}^{} overflows",
            format_value(start), format_value(factor), i);
    bounds.push_back(bound);
    bound *= factor;
  }
  return bounds;
}

std::vector<double> default_seconds_buckets() {
  return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
}

}  // namespace hm::metrics
