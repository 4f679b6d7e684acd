#include "hm/tensor/npy.h"

#include <algorithm>
#include <cstring>

#include "hm/base/error.h"
#include "hm/tensor/npy_header.h"

namespace hm {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr size_t kAlign = 64;

std::string hex_prefix(std::span<const std::byte> bytes) {
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(bytes.size(), 8); ++i) {
    out += fmt::format("{}{:02x}", i ? " " : "", static_cast<unsigned>(bytes[i]));
  }
  return out;
}

uint32_t read_le(std::span<const std::byte> bytes, size_t offset, size_t width) {
  uint32_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value |= static_cast<uint32_t>(bytes[offset + i]) << (8 * i);
  }
  return value;
}

// Where the header dict lies, after the magic, version and length.
struct Preamble {
  size_t header_offset;
  size_t header_length;
};

Preamble read_preamble(std::span<const std::byte> bytes) {
  size_t magic_seen = std::min(bytes.size(), kMagic.size());
  require(magic_seen == 0 || std::memcmp(bytes.data(), kMagic.data(), magic_seen) == 0,
          "not a .npy record: bad magic (starts with {})", hex_prefix(bytes));
  require(bytes.size() >= 10, "truncated .npy: {} bytes, too short for a header",
          bytes.size());
  auto major = static_cast<unsigned>(bytes[6]);
  auto minor = static_cast<unsigned>(bytes[7]);
  require(minor == 0 && major >= 1 && major <= 3,
          "unsupported .npy version {}.{} (hm reads 1.0, 2.0 and 3.0)", major, minor);
  size_t width = major == 1 ? 2 : 4;
  require(bytes.size() >= 8 + width, "truncated .npy: {} bytes, too short for a header",
          bytes.size());
  size_t length = read_le(bytes, 8, width);
  require(length <= kMaxNpyHeaderBytes, "npy header length {} exceeds the limit of {} bytes",
          length, kMaxNpyHeaderBytes);
  size_t offset = 8 + width;
  require(bytes.size() - offset >= length,
          "truncated .npy: header says {} bytes of header, file has {}", length,
          bytes.size() - offset);
  return {offset, length};
}

void copy_element(std::byte* out, const std::byte* in, size_t size, bool swap) {
  if (!swap) {
    std::memcpy(out, in, size);
    return;
  }
  for (size_t i = 0; i < size; ++i) out[i] = in[size - 1 - i];
}

// Copies `numel` elements into C order and little-endian byte order.
void to_c_order(std::span<const std::byte> in, std::byte* out, const NpyHeader& header,
                size_t size) {
  size_t numel = in.size() / size;
  bool swap = header.big_endian && size > 1;
  bool fortran = header.fortran_order && header.shape.size() >= 2;
  if (!swap && !fortran) {
    if (!in.empty()) std::memcpy(out, in.data(), in.size());
    return;
  }
  if (!fortran) {
    for (size_t i = 0; i < numel; ++i) copy_element(out + i * size, &in[i * size], size, swap);
    return;
  }
  // Column-major input: walk the output in C order with an odometer over the
  // index, keeping the input offset (in elements) in step.
  const auto& shape = header.shape;
  size_t rank = shape.size();
  std::vector<size_t> stride(rank), index(rank, 0);
  stride[0] = 1;
  for (size_t d = 1; d < rank; ++d) stride[d] = stride[d - 1] * static_cast<size_t>(shape[d - 1]);
  size_t offset = 0;
  for (size_t i = 0; i < numel; ++i) {
    copy_element(out + i * size, &in[offset * size], size, swap);
    for (size_t d = rank; d-- > 0;) {
      offset += stride[d];
      if (++index[d] < static_cast<size_t>(shape[d]) || d == 0) break;
      offset -= stride[d] * index[d];
      index[d] = 0;
    }
  }
}

bool aligned(const std::byte* pointer, size_t size) {
  return reinterpret_cast<uintptr_t>(pointer) % size == 0;
}

NpyRecord decode(std::span<const std::byte> bytes, std::shared_ptr<const void> owner,
                 const TensorLimits& limits) {
  Preamble preamble = read_preamble(bytes);
  std::string_view text(reinterpret_cast<const char*>(bytes.data()) + preamble.header_offset,
                        preamble.header_length);
  NpyHeader header = parse_npy_header(text);
  int64_t numel = checked_numel(header.shape, limits.max_elements);
  size_t size = dtype_size(header.dtype);
  size_t nbytes = checked_nbytes(numel, size, limits, "npy");
  size_t data_offset = preamble.header_offset + preamble.header_length;
  size_t available = bytes.size() - data_offset;
  require(available >= nbytes, "truncated .npy: header says {} bytes of data, file has {}",
          nbytes, available);
  auto data = bytes.subspan(data_offset, nbytes);
  if (header.dtype == DType::Bool) check_bool_bytes(data, "npy");

  NpyRecord record;
  record.consumed = data_offset + nbytes;
  bool in_place = !(header.big_endian && size > 1) &&
                  !(header.fortran_order && header.shape.size() >= 2) &&
                  aligned(data.data(), size);
  if (owner && in_place) {
    record.tensor.dtype = header.dtype;
    record.tensor.shape = std::move(header.shape);
    record.tensor.bytes = data;
    record.tensor.owner = std::move(owner);
    return record;
  }
  HostTensor tensor = HostTensor::zeros(header.dtype, header.shape);
  to_c_order(data, tensor.mutable_data(), header, size);
  record.tensor = std::move(tensor);
  return record;
}

std::vector<HostTensor> decode_all(std::span<const std::byte> bytes,
                                   const std::shared_ptr<const void>& owner,
                                   const TensorLimits& limits) {
  std::vector<HostTensor> tensors;
  size_t offset = 0;
  while (offset < bytes.size()) {
    try {
      NpyRecord record = decode(bytes.subspan(offset), owner, limits);
      tensors.push_back(std::move(record.tensor));
      offset += record.consumed;
    } catch (const Error& e) {
      if (tensors.empty()) throw;
      fail("npy record {} at byte {}: {}", tensors.size() + 1, offset, e.what());
    }
  }
  return tensors;
}

}  // namespace

NpyRecord decode_npy(std::span<const std::byte> bytes, const TensorLimits& limits) {
  return decode(bytes, nullptr, limits);
}

NpyRecord decode_npy(std::span<const std::byte> bytes, std::shared_ptr<const void> owner,
                     const TensorLimits& limits) {
  return decode(bytes, std::move(owner), limits);
}

std::vector<HostTensor> decode_npy_all(std::span<const std::byte> bytes,
                                       const TensorLimits& limits) {
  return decode_all(bytes, nullptr, limits);
}

std::vector<HostTensor> decode_npy_all(std::span<const std::byte> bytes,
                                       std::shared_ptr<const void> owner,
                                       const TensorLimits& limits) {
  return decode_all(bytes, owner, limits);
}

std::string npy_preamble(const HostTensor& tensor) {
  NpyHeader header;
  header.dtype = tensor.dtype;
  header.shape = tensor.shape;
  std::string dict = format_npy_header(header);
  // The header (dict, space padding, '\n') ends on a multiple of 64 bytes.
  // Version 1.0 stores its length in 2 bytes; 2.0, for longer ones, in 4.
  auto padded_length = [&](size_t width) {
    size_t prefix = 8 + width;
    return (prefix + dict.size() + 1 + kAlign - 1) / kAlign * kAlign - prefix;
  };
  size_t width = padded_length(2) <= 0xffff ? 2 : 4;
  size_t length = padded_length(width);

  std::string out(kMagic);
  out += static_cast<char>(width == 2 ? 1 : 2);
  out += '\0';
  for (size_t i = 0; i < width; ++i) out += static_cast<char>((length >> (8 * i)) & 0xff);
  out += dict;
  out.append(length - dict.size() - 1, ' ');
  out += '\n';
  return out;
}

void encode_npy(const HostTensor& tensor, const ByteSink& sink) {
  std::string preamble = npy_preamble(tensor);
  sink(std::as_bytes(std::span(preamble)));
  if (tensor.nbytes() > 0) sink(tensor.bytes);
}

std::string encode_npy(const HostTensor& tensor) {
  std::string out;
  encode_npy(tensor, append_to(out));
  return out;
}

}  // namespace hm
