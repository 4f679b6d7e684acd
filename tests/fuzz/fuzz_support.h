// Helpers shared by the fuzz targets (tests/fuzz/*_fuzz.cpp): limits small
// enough for libFuzzer's -rss_limit_mb=2048, aligned copies of the input (the
// Cap'n Proto readers need 8-byte alignment, as production buffers have), and
// a scratch file for decoders that take a path.
//
// The contract of every target: a decoder may refuse its input with its
// documented error type (caught in the target); any other exception, a crash,
// a sanitizer report, a leak or an allocation over the limits is a finding.
#pragma once

#include <capnp/common.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <span>
#include <string>
#include <vector>

#include "hm/tensor/limits.h"

namespace hm::fuzz {

// Where a decoder allocates (and zeroes) what a header announces before
// reading the data, this caps it at 1 MiB: within the production limits that
// is legitimate, but at 64 MiB a run spends its time in memset.
inline TensorLimits small_limits() {
  TensorLimits limits;
  limits.max_elements = int64_t{1} << 20;
  limits.max_bytes = size_t{1} << 20;
  return limits;
}

// Tiny limits, to reach the refusal paths with small inputs.
inline TensorLimits tiny_limits() {
  TensorLimits limits;
  limits.max_elements = 64;
  limits.max_bytes = 256;
  return limits;
}

// The input as whole words (a trailing partial word dropped), 8-byte aligned.
inline std::vector<capnp::word> aligned_words(const uint8_t* data, size_t size) {
  std::vector<capnp::word> words(size / sizeof(capnp::word));
  if (!words.empty()) std::memcpy(words.data(), data, words.size() * sizeof(capnp::word));
  return words;
}

inline std::span<const std::byte> as_bytes(const std::vector<capnp::word>& words) {
  return std::as_bytes(std::span(words));
}

// A file under $TMPDIR (or /tmp) that each call rewrites; one per process, so
// that parallel fuzzing jobs do not share it. Aborts when it cannot be
// written: that is the harness failing, not the decoder.
inline const std::string& write_scratch_file(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/hm_fuzz_input." +
           std::to_string(static_cast<long>(getpid()));
  }();
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr || (size > 0 && std::fwrite(data, 1, size, file) != size) ||
      std::fclose(file) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

// Fails the run (a finding) when an invariant of a decoder's result breaks.
#define HM_FUZZ_CHECK(condition)                                              \
  do {                                                                        \
    if (!(condition)) {                                                       \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #condition);                                               \
      std::abort();                                                           \
    }                                                                         \
  } while (0)

}  // namespace hm::fuzz
