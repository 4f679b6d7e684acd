// The framed Cap'n Proto tensor stream (`--format capnp`): both overloads of
// decode_capnp_stream (the copying one gets the input unaligned, as a pipe
// delivers it), production limits, then tiny limits for the refusal paths.
#include <memory>

#include "fuzz_support.h"
#include "hm/base/error.h"
#include "hm/tensor/capnp_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  try {
    hm::decode_capnp_stream(bytes);
  } catch (const hm::Error&) {
  }
  auto words = std::make_shared<std::vector<capnp::word>>(hm::fuzz::aligned_words(data, size));
  try {
    hm::decode_capnp_stream(hm::fuzz::as_bytes(*words), words, hm::fuzz::tiny_limits());
  } catch (const hm::Error&) {
  }
  return 0;
}
