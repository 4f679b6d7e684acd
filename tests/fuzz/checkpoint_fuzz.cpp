// Checkpoint files (DIR/<uid>.pt, read when a server starts): read_checkpoint_header
// on a scratch file. A random file almost never has the right size and
// checksum, so when the first byte is odd the rest is taken as the payload
// and framed correctly (magic, size, checksum64), which sends the fuzzer on
// into torch's archive reader. CorruptCheckpoint (an hm::Error) is the
// documented refusal.
#include <cstring>
#include <string>

#include "fuzz_support.h"
#include "hm/moe/checkpoint.h"

namespace {

std::string framed(const uint8_t* payload, size_t size) {
  std::string file("HMCKPT02");
  const uint64_t header[2] = {
      size, hm::moe::checksum64(std::as_bytes(std::span(payload, size)))};
  for (uint64_t value : header) {
    for (int i = 0; i < 8; ++i) file.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
  file.append(reinterpret_cast<const char*>(payload), size);
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string file = data[0] % 2 == 1 ? framed(data + 1, size - 1)
                                      : std::string(reinterpret_cast<const char*>(data + 1),
                                                    size - 1);
  const auto& path =
      hm::fuzz::write_scratch_file(reinterpret_cast<const uint8_t*>(file.data()), file.size());
  try {
    hm::moe::read_checkpoint_header(path);
  } catch (const hm::Error&) {
  }
  return 0;
}
