// Built-in expert networks (private to hm_torch): the table behind
// expert_layers.h for every kind except "module".
#pragma once

#include <ATen/core/MT19937RNGEngine.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "hm/moe/expert_layers.h"

namespace hm::moe::detail {

struct BuiltinKind {
  std::string_view name;
  // Specs for hidden size h; dim 0 is the batch (-1).
  std::vector<TensorSpec> (*inputs)(int64_t h);
  std::vector<TensorSpec> (*outputs)(int64_t h);
  // Builds the network on the CPU, drawing initial weights from `gen`: the
  // engine behind torch's CPU generator, seeded like torch.manual_seed.
  std::unique_ptr<ExpertModule> (*make)(int64_t h, at::mt19937& gen);
};

std::span<const BuiltinKind> builtin_kinds();

// nullptr when `name` is not a built-in kind.
const BuiltinKind* find_builtin(std::string_view name);

}  // namespace hm::moe::detail
