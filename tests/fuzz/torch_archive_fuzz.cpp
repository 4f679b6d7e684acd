// LibTorch archives (the payload of a checkpoint file, before LibTorch
// reads it): check_torch_archive over the raw bytes, with each policy for
// globals. hm::Error is the documented refusal; the seeds are real archives
// that LibTorch wrote.
#include "fuzz_support.h"
#include "hm/base/error.h"
#include "hm/data/torch_archive.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (auto globals : {hm::data::PickleGlobals::kAny, hm::data::PickleGlobals::kTensorsOnly}) {
    try {
      hm::data::check_torch_archive(std::as_bytes(std::span(data, size)), globals);
    } catch (const hm::Error&) {
    }
  }
  return 0;
}
