#include "hm/moe/pool_metrics.h"

namespace hm::moe {
namespace {

// Powers of two from 1 row to 65536 rows.
std::vector<double> row_buckets() { return metrics::exponential_buckets(1, 2, 17); }

// 100 us to about 15 s, in steps of x2.5.
std::vector<double> seconds_buckets() { return metrics::exponential_buckets(1e-4, 2.5, 14); }

}  // namespace

PoolMetrics PoolMetrics::of(const std::string& uid, const std::string& method) {
  auto& registry = metrics::default_registry();
  static auto& batches = registry.counter("hm_expert_batches_total",
                                          "Batches an expert ran", {"uid", "method"});
  static auto& rows = registry.counter("hm_expert_rows_total",
                                       "Rows (samples) in the batches an expert ran",
                                       {"uid", "method"});
  static auto& dropped = registry.counter(
      "hm_expert_dropped_total",
      "Tasks dropped unrun because their client's deadline had passed", {"uid", "method"});
  static auto& batch_rows = registry.histogram("hm_expert_batch_rows", "Rows per batch run",
                                               {"uid", "method"}, row_buckets());
  static auto& queue_wait = registry.histogram(
      "hm_expert_queue_wait_seconds", "Seconds a task waited in its queue before its batch ran",
      {"uid", "method"}, seconds_buckets());
  static auto& compute = registry.histogram("hm_expert_compute_seconds",
                                            "Seconds one batch took to compute",
                                            {"uid", "method"}, seconds_buckets());
  const metrics::LabelValues labels{uid, method};
  return PoolMetrics{&batches.with(labels),    &rows.with(labels),
                     &dropped.with(labels),    &batch_rows.with(labels),
                     &queue_wait.with(labels), &compute.with(labels)};
}

}  // namespace hm::moe
