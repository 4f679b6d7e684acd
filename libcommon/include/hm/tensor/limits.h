// TensorLimits: how large a tensor a decoder will accept from outside (a file,
// a pipe, a network message). Every decoder in hm/tensor checks the declared
// element count and byte size against these limits before it allocates or
// trusts any length, so a hostile header cannot make it allocate more.
// A plain value; copy it freely.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hm {

struct TensorLimits {
  int64_t max_elements = int64_t{1} << 31;  // per tensor
  size_t max_bytes = size_t{1} << 31;       // per tensor, decoded (2 GiB)
};

// Throws hm::Error when a tensor of `numel` elements of `element_size` bytes
// exceeds `limits`; returns its size in bytes. `what` names the source in the
// message ("npy", "wire tensor"). `numel` must already be <= max_elements.
size_t checked_nbytes(int64_t numel, size_t element_size, const TensorLimits& limits,
                      const char* what);

}  // namespace hm
