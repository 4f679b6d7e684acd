// Text tensors (`--format text`): parse_text in the dtype the first byte
// picks, with the production limits, as hm-call reads a pipe.
#include <string_view>

#include "fuzz_support.h"
#include "hm/base/error.h"
#include "hm/tensor/text_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto dtype = static_cast<hm::DType>(data[0] % hm::kDTypeCount);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    for (const auto& tensor : hm::parse_text(text, dtype)) {
      HM_FUZZ_CHECK(tensor.dtype == dtype && tensor.shape.size() == 2);
    }
  } catch (const hm::Error&) {
  }
  try {
    hm::parse_text(text, dtype, hm::fuzz::tiny_limits());
  } catch (const hm::Error&) {
  }
  return 0;
}
