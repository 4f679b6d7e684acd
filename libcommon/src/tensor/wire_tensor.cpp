#include "hm/tensor/wire_tensor.h"

#include <cstring>

#include <capnp/orphan.h>
#include <kj/exception.h>

#include "hm/base/error.h"
#include "hm/tensor/compression.h"

namespace hm {
namespace {

// The two enums list the dtypes in the same order (see tensor.capnp).
static_assert(static_cast<int>(wire::DType::FLOAT32) == static_cast<int>(DType::Float32));
static_assert(static_cast<int>(wire::DType::FLOAT16) == static_cast<int>(DType::Float16));
static_assert(static_cast<int>(wire::DType::BFLOAT16) == static_cast<int>(DType::BFloat16));
static_assert(static_cast<int>(wire::DType::FLOAT64) == static_cast<int>(DType::Float64));
static_assert(static_cast<int>(wire::DType::INT64) == static_cast<int>(DType::Int64));
static_assert(static_cast<int>(wire::DType::INT32) == static_cast<int>(DType::Int32));
static_assert(static_cast<int>(wire::DType::INT16) == static_cast<int>(DType::Int16));
static_assert(static_cast<int>(wire::DType::INT8) == static_cast<int>(DType::Int8));
static_assert(static_cast<int>(wire::DType::UINT8) == static_cast<int>(DType::UInt8));
static_assert(static_cast<int>(wire::DType::BOOL) == static_cast<int>(DType::Bool));
static_assert(kDTypeCount == 10);

// A Cap'n Proto list (Data included) holds at most 2^29 - 1 elements.
constexpr size_t kMaxDataBytes = (size_t{1} << 29) - 1;

std::span<const std::byte> as_span(capnp::Data::Reader data) {
  return {reinterpret_cast<const std::byte*>(data.begin()), data.size()};
}

HostTensor decode(wire::Tensor::Reader reader, std::shared_ptr<const void> owner,
                  const TensorLimits& limits) {
  DType dtype = from_wire(reader.getDtype());
  std::vector<int64_t> shape;
  for (int64_t dim : reader.getShape()) shape.push_back(dim);
  int64_t numel = checked_numel(shape, limits.max_elements);
  size_t nbytes = checked_nbytes(numel, dtype_size(dtype), limits, "wire tensor");
  auto data = reader.getData();
  auto compression = reader.getCompression();
  if (compression != wire::Compression::NONE) {
    require(compression_name(compression) != "unknown", "wire tensor: unknown compression {}",
            static_cast<unsigned>(compression));
    // A fresh buffer of the decoded size, which the limits above allow.
    return decompress(dtype, std::move(shape), compression, as_span(data));
  }
  if (data.size() != nbytes) {
    fail("tensor data is {} bytes but {}{} needs {}", data.size(), dtype_name(dtype),
         shape_string(shape), nbytes);
  }
  auto bytes = as_span(data);
  if (dtype == DType::Bool) check_bool_bytes(bytes, "wire tensor");
  bool aligned = reinterpret_cast<uintptr_t>(bytes.data()) % dtype_size(dtype) == 0;
  if (!owner || !aligned) return HostTensor::copy_of(dtype, std::move(shape), bytes);
  HostTensor tensor;
  tensor.dtype = dtype;
  tensor.shape = std::move(shape);
  tensor.bytes = bytes;
  tensor.owner = std::move(owner);
  return tensor;
}

// Everything but the data: dtype, shape, compression. Throws hm::Error when
// `nbytes` (the tensor on the wire) is more than one Data field holds.
void set_header(const HostTensor& tensor, size_t nbytes, wire::Tensor::Builder out,
                wire::Compression compression) {
  if (nbytes > kMaxDataBytes) {
    fail("{} is {} bytes on the wire, more than a Cap'n Proto Data field holds ({})",
         describe(tensor), nbytes, kMaxDataBytes);
  }
  out.setDtype(to_wire(tensor.dtype));
  auto shape = out.initShape(static_cast<unsigned>(tensor.shape.size()));
  for (size_t i = 0; i < tensor.shape.size(); ++i) shape.set(i, tensor.shape[i]);
  out.setCompression(compression);
}

constexpr size_t kMinReferencedBytes = 64 * 1024;

}  // namespace

wire::DType to_wire(DType dtype) {
  return static_cast<wire::DType>(static_cast<uint16_t>(dtype));
}

DType from_wire(wire::DType dtype) {
  auto code = static_cast<uint16_t>(dtype);
  require(code < kDTypeCount, "unknown wire dtype {}", code);
  return static_cast<DType>(code);
}

void to_wire(const HostTensor& tensor, wire::Tensor::Builder out) {
  to_wire(tensor, out, wire::Compression::NONE);
}

void to_wire(const HostTensor& tensor, wire::Tensor::Builder out,
             wire::Compression compression) {
  const size_t nbytes = compressed_size(tensor, compression);
  set_header(tensor, nbytes, out, compression);
  auto data = out.initData(nbytes);
  compress_into(tensor, compression, {reinterpret_cast<std::byte*>(data.begin()), data.size()});
}

bool can_reference_on_wire(const HostTensor& tensor) {
  return tensor.owner && tensor.nbytes() >= kMinReferencedBytes && tensor.nbytes() % 8 == 0 &&
         reinterpret_cast<uintptr_t>(tensor.data()) % 8 == 0;
}

void to_wire_by_reference(const HostTensor& tensor, wire::Tensor::Builder out) {
  require(can_reference_on_wire(tensor),
          "{} cannot be sent by reference (it needs an owner and whole, aligned 8-byte words)",
          describe(tensor));
  set_header(tensor, tensor.nbytes(), out, wire::Compression::NONE);
  auto orphanage = capnp::Orphanage::getForMessageContaining(out);
  capnp::Data::Reader bytes(reinterpret_cast<const kj::byte*>(tensor.data()), tensor.nbytes());
  out.adoptData(orphanage.referenceExternalData(bytes));
}

HostTensor from_wire(wire::Tensor::Reader tensor, std::shared_ptr<const void> owner,
                     const TensorLimits& limits) {
  try {
    return decode(tensor, std::move(owner), limits);
  } catch (const kj::Exception& e) {
    fail("malformed wire tensor: {}", e.getDescription().cStr());
  }
}

void to_wire(const TensorSpec& spec, wire::TensorSchema::Builder out,
             wire::Compression compression) {
  out.setDtype(to_wire(spec.dtype));
  auto shape = out.initShape(static_cast<unsigned>(spec.shape.size()));
  for (size_t i = 0; i < spec.shape.size(); ++i) shape.set(i, spec.shape[i]);
  out.setCompression(compression);
}

TensorSpec from_wire(wire::TensorSchema::Reader schema) {
  try {
    TensorSpec spec;
    spec.dtype = from_wire(schema.getDtype());
    for (int64_t dim : schema.getShape()) spec.shape.push_back(dim);
    for (int64_t dim : spec.shape) {
      if (dim < -1) {
        fail("tensor schema: dimension {} in shape {} (use -1 for any size)", dim,
             shape_string(spec.shape));
      }
    }
    return spec;
  } catch (const kj::Exception& e) {
    fail("malformed tensor schema: {}", e.getDescription().cStr());
  }
}

}  // namespace hm
