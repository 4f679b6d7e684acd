// IDX dataset files, plain or gzipped (hm-moe train --data): read_idx on a
// scratch file, with limits small enough that a header announcing a huge
// tensor is refused before read_idx allocates it (it allocates the announced
// size before reading, bounded by the limits).
#include "fuzz_support.h"
#include "hm/base/error.h"
#include "hm/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& path = hm::fuzz::write_scratch_file(data, size);
  try {
    const auto tensor = hm::data::read_idx(path, hm::fuzz::small_limits());
    HM_FUZZ_CHECK(!tensor.shape.empty());
  } catch (const hm::Error&) {
  }
  return 0;
}
