// .npy records (hm-call/hm-moe files and pipes): decode_npy_all with the
// production limits, as the tools read them, then the zero-copy overload
// (aligned input, as a read file is) and tiny limits for the refusal paths.
#include <memory>

#include "fuzz_support.h"
#include "hm/base/error.h"
#include "hm/tensor/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  try {
    for (const auto& tensor : hm::decode_npy_all(bytes)) {
      HM_FUZZ_CHECK(tensor.nbytes() == static_cast<size_t>(tensor.numel()) *
                                           hm::dtype_size(tensor.dtype));
    }
  } catch (const hm::Error&) {
  }
  auto words = std::make_shared<std::vector<capnp::word>>(hm::fuzz::aligned_words(data, size));
  try {
    hm::decode_npy_all(hm::fuzz::as_bytes(*words), words);
  } catch (const hm::Error&) {
  }
  try {
    hm::decode_npy(bytes, hm::fuzz::tiny_limits());
  } catch (const hm::Error&) {
  }
  return 0;
}
