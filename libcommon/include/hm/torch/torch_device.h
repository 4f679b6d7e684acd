// torch_device: the device names users type ("cpu", "cuda", "cuda:1") turned
// into a torch::Device that is known to be usable in this process.
// Free functions, any thread.
#pragma once

#include <torch/types.h>

#include <string_view>

namespace hm {

// Throws hm::UsageError for a malformed name and hm::Error when CUDA is
// requested but this LibTorch has no CUDA or no such GPU is visible. "cuda"
// means the current CUDA device (index 0).
torch::Device parse_device(std::string_view name);

}  // namespace hm
