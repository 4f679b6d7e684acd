#include "hm/bench/compression_bench.h"

#include <algorithm>
#include <random>

#include "hm/base/error.h"
#include "hm/bench/stats.h"
#include "hm/tensor/compression.h"

namespace hm::bench {
namespace {

HostTensor standard_normal(size_t size, uint64_t seed) {
  auto tensor = HostTensor::uninitialized(DType::Float32, {static_cast<int64_t>(size)});
  auto* values = reinterpret_cast<float*>(tensor.mutable_data());
  std::mt19937_64 generator(seed);
  std::normal_distribution<float> normal;
  for (size_t i = 0; i < size; ++i) values[i] = normal(generator);
  return tensor;
}

double mean_squared_error(std::span<const float> a, std::span<const float> b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    sum += d * d;
  }
  return a.empty() ? 0 : sum / static_cast<double>(a.size());
}

// Seconds of the fastest of `repeats` calls of `fn`.
template <typename F>
double fastest(size_t repeats, const F& fn) {
  double best = 0;
  for (size_t r = 0; r < repeats; ++r) {
    const double start = monotonic_seconds();
    fn();
    const double took = monotonic_seconds() - start;
    if (r == 0 || took < best) best = took;
  }
  return best;
}

std::vector<wire::Compression> kinds_of(const CompressionRun& run) {
  if (run.kinds.empty()) {
    auto all = compression_kinds();
    return {all.begin(), all.end()};
  }
  std::vector<wire::Compression> kinds;
  for (const auto& name : run.kinds) {
    try {
      kinds.push_back(compression_from_name(name));
    } catch (const Error& e) {
      throw UsageError(std::string("--kinds: ") + e.what());
    }
  }
  return kinds;
}

KindResult measure(const HostTensor& tensor, wire::Compression kind, size_t repeats) {
  KindResult result;
  result.kind = compression_name(kind);
  result.bytes = compressed_size(tensor, kind);
  std::vector<std::byte> wire(result.bytes);
  auto decoded = HostTensor::uninitialized(tensor.dtype, tensor.shape);
  std::span<std::byte> out(decoded.mutable_data(), decoded.nbytes());
  const double encode_s = fastest(repeats, [&] { compress_into(tensor, kind, wire); });
  const double decode_s = fastest(repeats, [&] {
    decompress_into(tensor.dtype, tensor.shape, kind, wire, out);
  });
  const double gigabytes = static_cast<double>(tensor.nbytes()) / 1e9;
  result.encode_gbps = encode_s > 0 ? gigabytes / encode_s : 0;
  result.decode_gbps = decode_s > 0 ? gigabytes / decode_s : 0;
  result.mse = mean_squared_error(tensor.as<float>(), decoded.as<float>());
  return result;
}

}  // namespace

CompressionReport run_compression(const CompressionRun& run) {
  if (run.size == 0) throw UsageError("--size must be at least 1");
  if (run.repeats == 0) throw UsageError("--repeats must be at least 1");
  const auto kinds = kinds_of(run);
  const auto tensor = standard_normal(run.size, run.seed);
  CompressionReport report;
  for (auto kind : kinds) report.kinds.push_back(measure(tensor, kind, run.repeats));
  return report;
}

}  // namespace hm::bench
