// uniform8 on a peer's bytes (hm::decompress, as from_wire decodes a tensor
// sent with compression uniform8), then the uniform8 encoder on the same bytes
// taken as values; decompress_fuzz.h gives the input's layout.
#include "decompress_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return hm::fuzz::fuzz_decompress(hm::wire::Compression::UNIFORM8, data, size);
}
