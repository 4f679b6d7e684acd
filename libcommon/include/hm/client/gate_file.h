// A mixture's gating projection in a file (hm-moe --gate, --save-gate): two
// consecutive .npy records, the weight [sum(grid), in_features] then the
// bias [sum(grid)], float32, as numpy writes them (np.save twice).
//
// Threads: the caller's; no other thread may use `gate` meanwhile.
#pragma once

#include <string>

#include <torch/nn/modules/linear.h>

namespace hm::client {

// Copies the file's weight and bias into `gate`. Throws hm::Error naming
// the file and the shapes expected when it holds anything else: "--gate
// g.npy: expected two .npy records, weight [8, 16] and bias [8]".
void load_gate(torch::nn::Linear& gate, const std::string& path);

// Writes `gate`'s weight and bias to `path` (created or truncated).
void save_gate(const torch::nn::Linear& gate, const std::string& path);

}  // namespace hm::client
