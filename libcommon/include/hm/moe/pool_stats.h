// pool_stats: counters a task pool keeps and the periodic report built from
// two snapshots of them. Torch-free; plain values, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hm::moe {

// Cumulative since the pool started: batches run, rows they held, and tasks
// dropped unrun because their deadline had passed (their client gave up).
struct PoolCounters {
  uint64_t batches = 0;
  uint64_t samples = 0;
  uint64_t dropped = 0;
};

// One report line for the interval between two snapshots:
//   "ffn.0.1 forward: 12.0 batches/s, 3072 samples/s, mean batch 256.0"
// followed by ", 3 dropped past their deadline" when tasks were dropped in
// the interval. `seconds` <= 0 reports zero rates.
std::string format_pool_report(std::string_view name, const PoolCounters& before,
                               const PoolCounters& after, double seconds);

}  // namespace hm::moe
