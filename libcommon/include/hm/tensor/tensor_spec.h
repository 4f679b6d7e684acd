// TensorSpec: what an expert expects (or returns) in one tensor position, and
// the checks that turn a mismatching request into a one-line error.
// Torch-free; the wire form is wire::TensorSchema.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "hm/tensor/host_tensor.h"

namespace hm {

struct TensorSpec {
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;  // -1 = any size; shape[0] is the batch (-1)

  bool operator==(const TensorSpec&) const = default;
};

// "float32[*, 1024]".
std::string describe(const TensorSpec& spec);

// Checks that `tensors` match `specs` one to one (count, dtype, rank, fixed
// dimensions) and share one batch size (dim 0), which it returns (0 when no
// tensor has a dimension: all scalars, or no tensors at all). `what`
// names the list in messages, e.g. "forward inputs". Throws hm::Error:
//   "forward inputs: expected 1 tensor, got 2"
//   "forward inputs[0]: expected float32[*, 1024], got float32[4, 512]"
//   "forward inputs: batch sizes differ: 4 (inputs[0]) vs 3 (inputs[1])"
int64_t check_tensors(std::span<const TensorSpec> specs,
                      std::span<const HostTensor> tensors,
                      const std::string& what);

}  // namespace hm
