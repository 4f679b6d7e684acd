// The records of a zip archive held in memory, as LibTorch's reader (miniz,
// through caffe2::serialize::PyTorchStreamReader) would find them, checked
// against the archive's own size. Private to hm_data: torch_archive.cpp's
// check is its one user.
//
// Only what LibTorch writes is accepted: one disk, no encryption, records
// stored (method 0, compressed size == uncompressed size) or deflated
// (method 8, LibTorch's code records) declaring at most 64 times their
// compressed size plus 1 MiB (miniz allocates what is declared), zip64
// records and fields where sizes need them. A record's data range comes from
// its local header (name and extra lengths there, as miniz computes it) and
// must lie inside the archive; so must the central directory and every
// header. Record names must be unique ignoring ASCII case, since miniz looks
// names up case-insensitively.
//
// Pure functions; any thread. Torch-free.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hm::data {

struct ZipRecord {
  std::string name;
  std::span<const std::byte> data;  // a view into the archive: the stored bytes
  bool deflated = false;             // data is a deflate stream
  uint64_t size = 0;                 // the declared uncompressed size
};

// The records of `archive` in central-directory order. Throws hm::Error
// "zip: <what>" for anything outside the rules above.
std::vector<ZipRecord> zip_records(std::span<const std::byte> archive);

// ASCII lower case, for comparing record names as miniz does.
std::string ascii_lower(std::string_view text);

}  // namespace hm::data
