// JSON and human-readable forms of an expert's description, for hm-call info
// and friends. Pure functions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "hm/rpc/expert_host.h"

namespace hm::cli {

// {"uid", "expert_cls", "inputs": [{"dtype", "shape"}], "outputs": [...],
//  "steps", "examples_processed", "max_batch_size"}; -1 in a shape = any size.
nlohmann::json to_json(const ExpertDescription& description);

// Aligned "key  value" lines, one per field, ending in a newline.
std::string to_text(const ExpertDescription& description);

}  // namespace hm::cli
