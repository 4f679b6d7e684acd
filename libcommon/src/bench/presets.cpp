#include "hm/bench/presets.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "hm/base/error.h"
#include "hm/base/expert_kinds.h"

namespace hm::bench {
namespace {

constexpr std::array<std::string_view, 8> kPresets = {
    "default",       "ffn_forward_backward", "ffn_forward",  "ffn_small_batch",
    "ffn_small_batch_512clients", "ffn_massive", "minimalistic", "nop"};

}  // namespace

std::span<const std::string_view> throughput_preset_names() { return kPresets; }

ThroughputParams throughput_preset(std::string_view name) {
  ThroughputParams p;
  p.max_batch_size = 8192;
  if (name == "default" || name == "ffn_forward_backward") return p;
  if (name == "ffn_forward") {
    p.backprop = false;
  } else if (name == "ffn_small_batch") {
    p.backprop = false;
    p.experts = 4;
    p.batch_size = 32;
  } else if (name == "ffn_small_batch_512clients") {
    p.experts = 1;
    p.batch_size = 1;
    p.clients = 512;
  } else if (name == "ffn_massive") {
    p.backprop = false;
    p.clients = 512;
    p.batch_size = 512;
  } else if (name == "minimalistic") {
    p.experts = 1;
    p.clients = 1;
  } else if (name == "nop") {
    p.expert_cls = "nop";
    p.backprop = false;
  } else {
    throw UsageError(fmt::format("unknown preset '{}' (presets: {})", name,
                                 fmt::join(kPresets, ", ")));
  }
  return p;
}

ThroughputParams apply(ThroughputParams params, const ThroughputOverrides& o) {
  if (o.experts) params.experts = *o.experts;
  if (o.clients) params.clients = *o.clients;
  if (o.batches_per_client) params.batches_per_client = *o.batches_per_client;
  if (o.batch_size) {
    params.batch_size = *o.batch_size;
    // A smaller preset limit follows the batch (hivemind: 4 x batch size).
    if (!o.max_batch_size && params.max_batch_size < *o.batch_size) params.max_batch_size = 0;
  }
  if (o.hidden_dim) params.hidden_dim = *o.hidden_dim;
  if (o.expert_cls) params.expert_cls = *o.expert_cls;
  if (o.max_batch_size) params.max_batch_size = *o.max_batch_size;
  if (o.backprop) params.backprop = *o.backprop;
  if (o.device) params.device = *o.device;
  if (params.max_batch_size == 0) {
    params.max_batch_size = static_cast<uint32_t>(std::min<size_t>(4 * params.batch_size, UINT32_MAX));
  }
  validate(params);
  return params;
}

void validate(const ThroughputParams& p) {
  if (p.experts == 0) throw UsageError("--experts must be at least 1");
  if (p.clients == 0) throw UsageError("--clients must be at least 1");
  if (p.batches_per_client == 0) throw UsageError("--batches-per-client must be at least 1");
  if (p.batch_size == 0) throw UsageError("--batch-size must be at least 1");
  if (p.hidden_dim < 1) {
    throw UsageError(fmt::format("--hidden-dim must be at least 1, got {}", p.hidden_dim));
  }
  if (!is_builtin_expert_kind(p.expert_cls)) {
    throw UsageError(fmt::format("--expert-cls '{}' is not one of {}", p.expert_cls,
                                 builtin_expert_kinds_text()));
  }
  if (p.max_batch_size != 0 && p.batch_size > p.max_batch_size) {
    throw UsageError(fmt::format("--batch-size {} exceeds --max-batch-size {}", p.batch_size,
                                 p.max_batch_size));
  }
}

std::string bench_uid(size_t index) { return fmt::format("expert.{}", index); }

}  // namespace hm::bench
