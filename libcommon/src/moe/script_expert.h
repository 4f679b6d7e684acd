// ScriptExpert (private to hm_torch): an ExpertModule over a TorchScript file.
#pragma once

#include <memory>
#include <string>

#include "hm/moe/expert_layers.h"

namespace hm::moe::detail {

// Loads `path` on the CPU with torch::jit::load. Throws hm::Error naming the
// file when it cannot be read or parsed.
std::unique_ptr<ExpertModule> load_script_expert(const std::string& path);

}  // namespace hm::moe::detail
