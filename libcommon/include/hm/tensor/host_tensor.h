// HostTensor: a dense, C-ordered, little-endian array in host memory, with no
// dependency on LibTorch.
//
// It is what the codecs (.npy, text, framed Cap'n Proto) and the RPC layer
// pass around; torch_bridge.h turns it into a torch::Tensor and back without
// copying. The bytes are immutable once built and shared: copying a
// HostTensor copies a pointer, never the data. Any thread may read one; the
// `owner` keeps the bytes alive (a heap buffer, a Cap'n Proto message, a
// torch storage).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hm {

// Element types, in the same order as wire::DType in schemas/tensor.capnp.
enum class DType : uint8_t {
  Float32,
  Float16,
  BFloat16,
  Float64,
  Int64,
  Int32,
  Int16,
  Int8,
  UInt8,
  Bool,
};

inline constexpr int kDTypeCount = 10;

// Bytes per element of `dtype`.
size_t dtype_size(DType dtype);

// Lower-case name as users type it: "float32", "float16", "bfloat16",
// "float64", "int64", "int32", "int16", "int8", "uint8", "bool".
std::string_view dtype_name(DType dtype);

// The inverse of dtype_name; also accepts "float", "half", "double", "long",
// "int". Throws hm::Error naming `name` when it is none of them.
DType dtype_from_name(std::string_view name);

bool is_floating(DType dtype);

// "[2, 3]" for error messages.
std::string shape_string(std::span<const int64_t> shape);

// Product of `shape`; throws hm::Error when a dimension is negative or the
// product overflows `max_elements` (the element count a caller is willing to
// allocate).
int64_t checked_numel(std::span<const int64_t> shape,
                      int64_t max_elements = int64_t{1} << 40);

struct HostTensor {
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;  // numel * dtype_size(dtype) bytes
  std::shared_ptr<const void> owner;  // keeps `bytes` alive

  // A zero-filled tensor owning a fresh buffer; write it through
  // mutable_data() before sharing it.
  static HostTensor zeros(DType dtype, std::vector<int64_t> shape);

  // A tensor owning a fresh buffer left as the allocator gives it; fill it
  // through mutable_data() before sharing it.
  static HostTensor uninitialized(DType dtype, std::vector<int64_t> shape);

  // A tensor that copies `data` into a fresh buffer.
  static HostTensor copy_of(DType dtype, std::vector<int64_t> shape,
                            std::span<const std::byte> data);

  // A tensor that takes over `buffer` (no copy); `buffer` must hold exactly
  // numel * dtype_size(dtype) bytes, else hm::Error.
  static HostTensor adopt(DType dtype, std::vector<int64_t> shape,
                          std::vector<std::byte> buffer);

  int64_t numel() const;
  size_t nbytes() const { return bytes.size(); }
  const std::byte* data() const { return bytes.data(); }

  // Only for a tensor made by zeros() or uninitialized(), before anyone else
  // sees it.
  std::byte* mutable_data() const { return const_cast<std::byte*>(bytes.data()); }

  // Typed view; the caller must know the dtype matches.
  template <typename T>
  std::span<const T> as() const {
    return {reinterpret_cast<const T*>(bytes.data()), bytes.size() / sizeof(T)};
  }
};

// "float32[64, 1024]" for logs and error messages.
std::string describe(const HostTensor& tensor);

// Throws hm::Error unless every byte of a bool tensor's data is 0 or 1:
//   "<what>: bool element 5 is 2 (only 0 and 1 are allowed)".
void check_bool_bytes(std::span<const std::byte> bytes, std::string_view what);

}  // namespace hm
