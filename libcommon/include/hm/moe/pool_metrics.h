// PoolMetrics: what one task pool (an expert's forward or backward queue)
// reports to Prometheus, in the process's registry (hm/base/metrics.h):
//   hm_expert_batches_total{uid,method}          batches run
//   hm_expert_rows_total{uid,method}             rows those batches held
//   hm_expert_dropped_total{uid,method}          tasks dropped past their deadline
//   hm_expert_batch_rows{uid,method}             histogram: rows per batch
//   hm_expert_queue_wait_seconds{uid,method}     histogram: enqueue -> batch start, per task
//   hm_expert_compute_seconds{uid,method}        histogram: one batch's compute, per batch
// Torch-free. Any thread (the series are atomics).
#pragma once

#include <string>

#include "hm/base/metrics.h"

namespace hm::moe {

struct PoolMetrics {
  metrics::Counter* batches = nullptr;
  metrics::Counter* rows = nullptr;
  metrics::Counter* dropped = nullptr;
  metrics::Histogram* batch_rows = nullptr;
  metrics::Histogram* queue_wait_seconds = nullptr;
  metrics::Histogram* compute_seconds = nullptr;

  // The series of expert `uid`'s `method` ("forward", "backward").
  static PoolMetrics of(const std::string& uid, const std::string& method);
};

}  // namespace hm::moe
