// The .npy codec: numpy's own file format, hm's default tensor format in pipes
// and files. Several tensors are several consecutive records, exactly what
// repeated np.save() calls on one open file write; np.load() on that file
// object reads them back one by one.
//
// Reading accepts versions 1.0, 2.0 and 3.0 (3.0 = UTF-8 header), the dtypes
// float32/16/64, int64/32/16/8, uint8 and bool ('|b1'), in either byte order
// and in C or Fortran order; the result is always little-endian and C-ordered.
// Anything else (object, strings, complex, uint16+, other structured dtypes) is
// refused with an hm::Error naming the descr. Every length in the input is
// checked before use and against TensorLimits before anything is allocated.
//
// bfloat16 (numpy has no such dtype) is written with the structured descr
//   [('bfloat16', '<u2')]
// which numpy reads as a record array whose one field holds the raw bits:
// `np.load(f)['bfloat16']` is a uint16 array, and
// `(a['bfloat16'].astype(np.uint32) << 16).view(np.float32)` the values.
// Reading that exact descr (or '>u2') yields a DType::BFloat16 tensor.
//
// Writing produces version 1.0 (2.0 when a header is longer than 65535 bytes),
// little-endian, C order, with the data aligned to 64 bytes like numpy.
//
// Pure functions; any thread. Decoded tensors either own a fresh buffer or,
// with the `owner` overloads, point into the input and hold `owner`.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hm/tensor/byte_sink.h"
#include "hm/tensor/host_tensor.h"
#include "hm/tensor/limits.h"

namespace hm {

// Longest header (the dict text and its padding) a reader accepts.
inline constexpr size_t kMaxNpyHeaderBytes = size_t{1} << 20;

struct NpyRecord {
  HostTensor tensor;
  size_t consumed = 0;  // bytes of the input this record took: header + data
};

// Decodes the record at the start of `bytes` into a tensor that owns a copy.
// Throws hm::Error: "not a .npy record: bad magic ...", "unsupported .npy
// version 4.0", "truncated .npy: header says 24 bytes of data, file has 12",
// a header error (see npy_header.h), or a limits error.
NpyRecord decode_npy(std::span<const std::byte> bytes, const TensorLimits& limits = {});

// Same, but when the data needs no conversion (little-endian, C order, and
// suitably aligned in memory) the tensor points into `bytes` and holds
// `owner`, which must keep `bytes` alive. Otherwise it owns a converted copy.
NpyRecord decode_npy(std::span<const std::byte> bytes, std::shared_ptr<const void> owner,
                     const TensorLimits& limits = {});

// Every record in `bytes`, back to back until the end (none for an empty
// buffer). A failure in a later record names it: "npy record 2 at byte 160: ...".
std::vector<HostTensor> decode_npy_all(std::span<const std::byte> bytes,
                                       const TensorLimits& limits = {});
std::vector<HostTensor> decode_npy_all(std::span<const std::byte> bytes,
                                       std::shared_ptr<const void> owner,
                                       const TensorLimits& limits = {});

// The magic, version, header length and padded header dict that precede the
// tensor's bytes in a record: encode_npy = npy_preamble + tensor.bytes.
std::string npy_preamble(const HostTensor& tensor);

// Sends one record to `sink`: the preamble, then the tensor's bytes as they are.
void encode_npy(const HostTensor& tensor, const ByteSink& sink);
std::string encode_npy(const HostTensor& tensor);

}  // namespace hm
