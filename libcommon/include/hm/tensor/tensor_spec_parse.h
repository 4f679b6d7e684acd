// Parsing a TensorSpec as users write it on a command line:
//   "float32[*, 1024]"  "int64[*]"  "bool[*,128]"  ("*" or -1 = any size)
// The inverse of describe(const TensorSpec&). Pure function.
#pragma once

#include <string_view>

#include "hm/tensor/tensor_spec.h"

namespace hm {

// Throws hm::UsageError naming the text when it is malformed.
TensorSpec parse_tensor_spec(std::string_view text);

}  // namespace hm
