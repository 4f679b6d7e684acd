// hm-bench compression: hivemind's benchmark_tensor_compression. One float32
// tensor of `size` standard normal values (seed 7348 by default) goes
// through every compression kind, or the `kinds` given, `repeats` times:
// compress_into and decompress_into (hm/tensor/compression.h) on one
// thread, into buffers allocated once. Per kind it reports the bytes on the
// wire, the mean squared error of the round trip, and the encode and decode
// speed in GB/s of float32 (1 GB = 10^9 bytes of the uncompressed tensor),
// each from the fastest repeat (the least disturbed by other work).
//
// Threads: run_compression blocks the calling thread and uses no other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hm::bench {

struct CompressionRun {
  size_t size = 10'000'000;  // elements
  uint64_t seed = 7348;
  size_t repeats = 10;
  std::vector<std::string> kinds;  // names (compression_name); empty = all
  bool progress = true;            // unused: a run takes seconds
};

struct KindResult {
  std::string kind;
  size_t bytes = 0;  // Tensor.data on the wire
  double mse = 0;
  double encode_gbps = 0;
  double decode_gbps = 0;
};

struct CompressionReport {
  std::vector<KindResult> kinds;  // in the order measured
};

// Throws hm::UsageError for size or repeats 0 or an unknown kind name.
CompressionReport run_compression(const CompressionRun& run);

}  // namespace hm::bench
