#include "hm/tensor/limits.h"

#include "hm/base/error.h"

namespace hm {

size_t checked_nbytes(int64_t numel, size_t element_size, const TensorLimits& limits,
                      const char* what) {
  require(numel >= 0 && numel <= limits.max_elements,
          "{}: {} elements exceed the limit of {}", what, numel, limits.max_elements);
  auto count = static_cast<uint64_t>(numel);
  require(element_size == 0 || count <= limits.max_bytes / element_size,
          "{}: {} elements of {} bytes exceed the limit of {} bytes", what, numel,
          element_size, limits.max_bytes);
  return static_cast<size_t>(count) * element_size;
}

}  // namespace hm
