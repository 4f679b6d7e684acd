#include "hm/tensor/tensor_spec.h"

#include "hm/base/error.h"

namespace hm {
namespace {

std::string dim_string(int64_t dim) { return dim < 0 ? "*" : std::to_string(dim); }

bool matches(const TensorSpec& spec, const HostTensor& tensor) {
  if (spec.dtype != tensor.dtype || spec.shape.size() != tensor.shape.size()) return false;
  for (size_t i = 0; i < spec.shape.size(); ++i) {
    if (spec.shape[i] >= 0 && spec.shape[i] != tensor.shape[i]) return false;
  }
  return true;
}

// "forward inputs" -> "inputs": how one element is named in messages.
std::string_view last_word(const std::string& what) {
  auto space = what.rfind(' ');
  return space == std::string::npos ? std::string_view(what)
                                    : std::string_view(what).substr(space + 1);
}

}  // namespace

std::string describe(const TensorSpec& spec) {
  std::string dims;
  for (size_t i = 0; i < spec.shape.size(); ++i) {
    if (i > 0) dims += ", ";
    dims += dim_string(spec.shape[i]);
  }
  return fmt::format("{}[{}]", dtype_name(spec.dtype), dims);
}

int64_t check_tensors(std::span<const TensorSpec> specs,
                      std::span<const HostTensor> tensors, const std::string& what) {
  require(specs.size() == tensors.size(), "{}: expected {} tensor{}, got {}", what,
          specs.size(), specs.size() == 1 ? "" : "s", tensors.size());
  int64_t batch = 0;
  size_t batch_from = 0;
  bool have_batch = false;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!matches(specs[i], tensors[i])) {
      fail("{}[{}]: expected {}, got {}", what, i, describe(specs[i]), describe(tensors[i]));
    }
    if (tensors[i].shape.empty()) continue;
    int64_t rows = tensors[i].shape[0];
    if (!have_batch) {
      batch = rows;
      batch_from = i;
      have_batch = true;
    } else {
      require(rows == batch, "{}: batch sizes differ: {} ({}[{}]) vs {} ({}[{}])", what,
              batch, last_word(what), batch_from, rows, last_word(what), i);
    }
  }
  return batch;
}

}  // namespace hm
