#include "hm/data/idx.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <optional>

#include "file_source.h"
#include "hm/base/error.h"

namespace hm::data {
namespace {

constexpr const char* kValidTypes =
    "0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64";
constexpr const char* kDebianHint =
    "Debian: apt install dataset-fashion-mnist, files in /usr/share/datasets/fashion-mnist";

std::optional<DType> dtype_of_code(unsigned code) {
  switch (code) {
    case 0x08:
      return DType::UInt8;
    case 0x09:
      return DType::Int8;
    case 0x0B:
      return DType::Int16;
    case 0x0C:
      return DType::Int32;
    case 0x0D:
      return DType::Float32;
    case 0x0E:
      return DType::Float64;
    default:
      return std::nullopt;
  }
}

uint32_t big_endian_u32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

template <typename U, U (*Swap)(U)>
void swap_each(std::byte* data, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    U value;
    std::memcpy(&value, data + i * sizeof(U), sizeof(U));
    value = Swap(value);
    std::memcpy(data + i * sizeof(U), &value, sizeof(U));
  }
}

uint16_t bswap16(uint16_t v) { return __builtin_bswap16(v); }
uint32_t bswap32(uint32_t v) { return __builtin_bswap32(v); }
uint64_t bswap64(uint64_t v) { return __builtin_bswap64(v); }

// Big-endian elements -> host order, in place.
void to_host_order(std::byte* data, size_t nbytes, size_t element_size) {
  if constexpr (std::endian::native == std::endian::big) return;
  switch (element_size) {
    case 2:
      swap_each<uint16_t, bswap16>(data, nbytes / 2);
      break;
    case 4:
      swap_each<uint32_t, bswap32>(data, nbytes / 4);
      break;
    case 8:
      swap_each<uint64_t, bswap64>(data, nbytes / 8);
      break;
    default:
      break;
  }
}

std::vector<int64_t> read_dims(FileSource& source, unsigned ndims) {
  std::vector<unsigned char> raw(4 * size_t{ndims});
  const size_t got = source.read(reinterpret_cast<std::byte*>(raw.data()), raw.size());
  require(got == raw.size(), "{}: truncated IDX header: {} dimensions need {} bytes, got {}",
          source.path(), ndims, raw.size(), got);
  std::vector<int64_t> shape(ndims);
  for (unsigned d = 0; d < ndims; ++d) shape[d] = big_endian_u32(&raw[4 * d]);
  return shape;
}

// The byte size of the data, checked against `limits` before anything is
// allocated.
size_t checked_data_bytes(const std::string& path, DType dtype, const std::vector<int64_t>& shape,
                          const TensorLimits& limits) {
  int64_t numel = 0;
  try {
    numel = checked_numel(shape, limits.max_elements);
  } catch (const Error& error) {
    fail("{}: {}", path, error.what());
  }
  return checked_nbytes(numel, dtype_size(dtype), limits, path.c_str());
}

// "<dir>/<stem>" or "<dir>/<stem>.gz", whichever exists (plain first).
std::optional<std::string> find_file(const std::filesystem::path& dir, const std::string& stem) {
  for (const auto& name : {stem, stem + ".gz"}) {
    std::error_code error;
    const auto path = dir / name;
    if (std::filesystem::is_regular_file(path, error)) return path.string();
  }
  return std::nullopt;
}

}  // namespace

HostTensor read_idx(const std::string& path, const TensorLimits& limits) {
  FileSource source(path);
  unsigned char magic[4] = {};
  const size_t got = source.read(reinterpret_cast<std::byte*>(magic), sizeof magic);
  if (got >= 2 && (magic[0] != 0 || magic[1] != 0)) {
    fail("{}: not an IDX file (magic 0x{:02x}{:02x})", path, magic[0], magic[1]);
  }
  require(got == sizeof magic, "{}: truncated IDX header: {} bytes, expected at least 4", path,
          got);
  const auto dtype = dtype_of_code(magic[2]);
  require(dtype.has_value(), "{}: unknown IDX type code 0x{:02X} (valid: {})", path, magic[2],
          kValidTypes);
  const unsigned ndims = magic[3];
  require(ndims >= 1, "{}: IDX header declares 0 dimensions", path);
  auto shape = read_dims(source, ndims);
  const size_t nbytes = checked_data_bytes(path, *dtype, shape, limits);

  auto tensor = HostTensor::zeros(*dtype, std::move(shape));
  const size_t data_got = source.read(tensor.mutable_data(), nbytes);
  require(data_got == nbytes, "{}: truncated: header says {} bytes of data ({}), got {}{}", path,
          nbytes, describe(tensor), data_got,
          source.stream_cut() ? " (the gzip stream ends early)" : "");
  // One byte more tells trailing data apart from the end (and, for gzip,
  // makes zlib check the stream's CRC and length).
  std::byte extra;
  require(source.read(&extra, 1) == 0, "{}: trailing data after the {} bytes of {}", path, nbytes,
          describe(tensor));
  require(!source.stream_cut(), "{}: truncated gzip stream (the data is complete, its end is not)",
          path);
  to_host_order(tensor.mutable_data(), nbytes, dtype_size(*dtype));
  return tensor;
}

Split load_idx_split(const std::string& dir, const std::string& name) {
  std::error_code error;
  require(std::filesystem::is_directory(dir, error), "--data {}: no such directory ({})", dir,
          kDebianHint);
  const std::string image_stem = name + "-images-idx3-ubyte";
  const std::string label_stem = name + "-labels-idx1-ubyte";
  const auto image_path = find_file(dir, image_stem);
  require(image_path.has_value(), "--data {}: no {}(.gz) there ({})", dir, image_stem, kDebianHint);
  const auto label_path = find_file(dir, label_stem);
  require(label_path.has_value(), "--data {}: no {}(.gz) there ({})", dir, label_stem, kDebianHint);

  Split split;
  split.images = read_idx(*image_path);
  split.labels = read_idx(*label_path);
  const auto& images = split.images;
  const auto& labels = split.labels;
  require(images.dtype == DType::UInt8 && images.shape.size() == 3,
          "{}: expected uint8 images [N, rows, cols], got {}", *image_path, describe(images));
  require(labels.dtype == DType::UInt8 && labels.shape.size() == 1,
          "{}: expected uint8 labels [N], got {}", *label_path, describe(labels));
  require(images.shape[0] == labels.shape[0], "--data {}: {} images but {} labels ({} and {})", dir,
          images.shape[0], labels.shape[0], *image_path, *label_path);
  const auto values = labels.as<uint8_t>();
  split.num_classes = values.empty() ? 0 : *std::max_element(values.begin(), values.end()) + 1;
  return split;
}

}  // namespace hm::data
