#include "hm/moe/pool_stats.h"

#include <fmt/format.h>

namespace hm::moe {

std::string format_pool_report(std::string_view name, const PoolCounters& before,
                               const PoolCounters& after, double seconds) {
  const auto batches = static_cast<double>(after.batches - before.batches);
  const auto samples = static_cast<double>(after.samples - before.samples);
  const double per_second = seconds > 0 ? 1.0 / seconds : 0.0;
  const double mean = batches > 0 ? samples / batches : 0.0;
  auto line = fmt::format("{}: {:.1f} batches/s, {:.0f} samples/s, mean batch {:.1f}", name,
                          batches * per_second, samples * per_second, mean);
  if (after.dropped != before.dropped) {
    line += fmt::format(", {} dropped past their deadline", after.dropped - before.dropped);
  }
  return line;
}

}  // namespace hm::moe
