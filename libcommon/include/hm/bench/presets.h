// The parameters of hm-bench throughput and hivemind's named presets
// (benchmarks/benchmark_throughput.py), so that a run here can be put next
// to one of hivemind's by name.
//
//   preset                      overrides of the defaults
//   default (ffn_forward_backward)  none: 16 ffn experts, hidden 1024, 128 clients
//                               x 16 batches of 2048, forward + backward
//   ffn_forward                 forward only
//   ffn_small_batch             forward only, 4 experts, batch 32
//   ffn_small_batch_512clients  1 expert, 512 clients, batch 1
//   ffn_massive                 forward only, 512 clients, batch 512
//   minimalistic                1 expert, 1 client
//   nop                         expert_cls nop, forward only
// Every preset's max batch size is 8192 (hivemind: 4 x batch size for the
// default ones, 8192 explicitly for the others); every field can be
// overridden afterwards. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace hm::bench {

struct ThroughputParams {
  size_t experts = 16;
  size_t clients = 128;
  size_t batches_per_client = 16;
  size_t batch_size = 2048;
  int64_t hidden_dim = 1024;
  std::string expert_cls = "ffn";
  uint32_t max_batch_size = 0;  // 0 = 4 x batch_size, as hivemind
  bool backprop = true;
  std::string device = "cpu";
};

// Every preset name, in the order of the table above.
std::span<const std::string_view> throughput_preset_names();

// The preset's parameters. Throws hm::UsageError naming the valid presets.
ThroughputParams throughput_preset(std::string_view name);

// What a command line may override (unset = keep the preset's value).
struct ThroughputOverrides {
  std::optional<size_t> experts;
  std::optional<size_t> clients;
  std::optional<size_t> batches_per_client;
  std::optional<size_t> batch_size;
  std::optional<int64_t> hidden_dim;
  std::optional<std::string> expert_cls;
  std::optional<uint32_t> max_batch_size;
  std::optional<bool> backprop;
  std::optional<std::string> device;
};

// `params` with every set override applied, max_batch_size resolved (0 ->
// 4 x batch_size) and the result validated.
ThroughputParams apply(ThroughputParams params, const ThroughputOverrides& overrides);

// Throws hm::UsageError naming the field: zero experts, clients, batches or
// batch size; hidden_dim < 1; an expert kind other than ffn, transformer,
// det_dropout, nop, nop_delay; batch_size above max_batch_size.
void validate(const ThroughputParams& params);

// "expert.0", "expert.1", ...: the uids hm-bench hosts and calls.
std::string bench_uid(size_t index);

}  // namespace hm::bench
