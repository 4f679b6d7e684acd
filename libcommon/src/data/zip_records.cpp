#include "zip_records.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <unordered_set>

#include "hm/base/error.h"

namespace hm::data {
namespace {

constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint32_t kCentralSignature = 0x02014b50;
constexpr uint32_t kLocalSignature = 0x04034b50;
constexpr size_t kEndBytes = 22;
constexpr size_t kZip64EndBytes = 56;
constexpr size_t kZip64LocatorBytes = 20;
constexpr size_t kCentralBytes = 46;
constexpr size_t kLocalBytes = 30;
constexpr size_t kMaxCommentBytes = 0xffff;
constexpr uint32_t kMax32 = 0xffffffff;
// Deflated records (LibTorch compresses its code records) may declare up to
// this much: miniz allocates the declared size before inflating.
constexpr uint64_t kMaxInflation = 64;
constexpr uint64_t kInflationSlack = uint64_t{1} << 20;

// Little-endian reads at an offset the caller has checked.
class Bytes {
 public:
  explicit Bytes(std::span<const std::byte> bytes) : bytes_(bytes) {}
  size_t size() const { return bytes_.size(); }
  uint64_t le(size_t offset, int width) const {
    uint64_t value = 0;
    for (int i = 0; i < width; ++i) {
      value |= uint64_t{std::to_integer<uint8_t>(bytes_[offset + i])} << (8 * i);
    }
    return value;
  }
  uint32_t u32(size_t offset) const { return static_cast<uint32_t>(le(offset, 4)); }
  uint16_t u16(size_t offset) const { return static_cast<uint16_t>(le(offset, 2)); }
  uint64_t u64(size_t offset) const { return le(offset, 8); }
  // Whether [offset, offset + length) lies inside, without overflow.
  bool holds(uint64_t offset, uint64_t length) const {
    return offset <= size() && length <= size() - offset;
  }
  std::string_view text(size_t offset, size_t length) const {
    return {reinterpret_cast<const char*>(bytes_.data() + offset), length};
  }
  std::span<const std::byte> span(size_t offset, size_t length) const {
    return bytes_.subspan(offset, length);
  }

 private:
  std::span<const std::byte> bytes_;
};

// Where the central directory is and how many records it has.
struct Directory {
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t records = 0;
};

// The end-of-central-directory record: the last signature with a whole
// record after it, as miniz searches (at most a comment's length back).
size_t find_end_record(const Bytes& zip) {
  if (zip.size() < kEndBytes) fail("zip: {} bytes, too short for an end record", zip.size());
  const size_t last = zip.size() - kEndBytes;
  const size_t first = last > kMaxCommentBytes ? last - kMaxCommentBytes : 0;
  for (size_t at = last + 1; at-- > first;) {
    if (zip.u32(at) == kEndSignature) return at;
  }
  fail("zip: no end-of-central-directory record");
}

Directory read_directory(const Bytes& zip) {
  const size_t end = find_end_record(zip);
  require(zip.u16(end + 4) == 0 && zip.u16(end + 6) == 0, "zip: a multi-disk archive");
  require(end + kEndBytes + zip.u16(end + 20) == zip.size(),
          "zip: {} bytes after the end record, its comment says {}",
          zip.size() - end - kEndBytes, zip.u16(end + 20));
  Directory directory{zip.u32(end + 16), zip.u32(end + 12), zip.u16(end + 10)};
  require(zip.u16(end + 8) == directory.records, "zip: records on this disk != records in all");
  // miniz uses a zip64 end record whenever its locator is there.
  if (end >= kZip64LocatorBytes && zip.u32(end - kZip64LocatorBytes) == kZip64LocatorSignature) {
    const size_t locator = end - kZip64LocatorBytes;
    const uint64_t at = zip.u64(locator + 8);
    require(zip.holds(at, kZip64EndBytes) && zip.u32(at) == kZip64EndSignature,
            "zip: the zip64 locator points at offset {}, no zip64 end record there", at);
    require(zip.u32(at + 16) == 0 && zip.u32(at + 20) == 0 && zip.u32(locator + 4) == 0,
            "zip: a multi-disk archive");
    require(zip.u64(at + 24) == zip.u64(at + 32), "zip: records on this disk != records in all");
    directory = {zip.u64(at + 48), zip.u64(at + 40), zip.u64(at + 32)};
  }
  require(zip.holds(directory.offset, directory.size),
          "zip: central directory at {} of {} bytes, past the archive's {} bytes",
          directory.offset, directory.size, zip.size());
  require(directory.records <= directory.size / kCentralBytes,
          "zip: {} records cannot fit a {}-byte central directory", directory.records,
          directory.size);
  return directory;
}

// A central-directory entry's sizes and local-header offset, with the zip64
// extra field (id 1) standing in for each 32-bit field that is all ones.
struct Entry {
  uint64_t compressed = 0;
  uint64_t uncompressed = 0;
  uint64_t local_offset = 0;
};

void apply_zip64_field(const Bytes& zip, size_t extra, size_t extra_bytes, Entry& entry,
                       std::string_view name) {
  std::optional<std::pair<size_t, size_t>> field;  // offset, length of id 1's data
  for (size_t at = extra; at + 4 <= extra + extra_bytes;) {
    const size_t length = zip.u16(at + 2);
    require(at + 4 + length <= extra + extra_bytes, "zip: record {}: extra field overruns", name);
    if (zip.u16(at) == 1) field = {{at + 4, length}};
    at += 4 + length;
  }
  size_t used = 0;
  for (uint64_t* value : {&entry.uncompressed, &entry.compressed, &entry.local_offset}) {
    if (*value != kMax32) continue;
    require(field && used + 8 <= field->second, "zip: record {}: zip64 sizes missing", name);
    *value = zip.u64(field->first + used);
    used += 8;
  }
}

}  // namespace

std::string ascii_lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

std::vector<ZipRecord> zip_records(std::span<const std::byte> archive) {
  const Bytes zip(archive);
  const Directory directory = read_directory(zip);
  std::vector<ZipRecord> records;
  std::unordered_set<std::string> names;
  size_t at = directory.offset;
  const size_t directory_end = directory.offset + directory.size;
  for (uint64_t i = 0; i < directory.records; ++i) {
    require(at + kCentralBytes <= directory_end && zip.u32(at) == kCentralSignature,
            "zip: central directory entry {} of {} is missing", i, directory.records);
    const size_t name_bytes = zip.u16(at + 28);
    const size_t extra_bytes = zip.u16(at + 30);
    const size_t comment_bytes = zip.u16(at + 32);
    require(at + kCentralBytes + name_bytes + extra_bytes + comment_bytes <= directory_end,
            "zip: central directory entry {} overruns the directory", i);
    std::string name(zip.text(at + kCentralBytes, name_bytes));
    require(!name.empty(), "zip: record {} has no name", i);
    require((zip.u16(at + 8) & 1) == 0, "zip: record {} is encrypted", name);
    const uint16_t method = zip.u16(at + 10);
    require(method == 0 || method == 8, "zip: record {} has compression method {}", name, method);
    Entry entry{zip.u32(at + 20), zip.u32(at + 24), zip.u32(at + 42)};
    require(zip.u16(at + 34) == 0 || zip.u16(at + 34) == 0xffff, "zip: record {} on another disk",
            name);
    apply_zip64_field(zip, at + kCentralBytes + name_bytes, extra_bytes, entry, name);
    if (method == 0) {
      require(entry.compressed == entry.uncompressed,
              "zip: record {} stores {} bytes but declares {}", name, entry.compressed,
              entry.uncompressed);
    } else {
      require(entry.uncompressed <= kMaxInflation * entry.compressed + kInflationSlack,
              "zip: record {} declares {} bytes inflated from {}", name, entry.uncompressed,
              entry.compressed);
    }
    const uint64_t local = entry.local_offset;
    require(zip.holds(local, kLocalBytes) && zip.u32(local) == kLocalSignature,
            "zip: record {}: no local header at offset {}", name, local);
    const uint64_t data = local + kLocalBytes + zip.u16(local + 26) + zip.u16(local + 28);
    require(zip.holds(data, entry.compressed),
            "zip: record {}: {} bytes at offset {}, past the archive's {} bytes", name,
            entry.compressed, data, zip.size());
    require(names.insert(ascii_lower(name)).second, "zip: two records named {}", name);
    records.push_back({std::move(name), zip.span(data, entry.compressed), method == 8,
                       entry.uncompressed});
    at += kCentralBytes + name_bytes + extra_bytes + comment_bytes;
  }
  require(at == directory_end, "zip: {} bytes of the central directory follow its last record",
          directory_end - at);
  return records;
}

}  // namespace hm::data
