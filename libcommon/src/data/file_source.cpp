#include "file_source.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "hm/base/error.h"

namespace hm::data {
namespace {

constexpr size_t kInputChunk = size_t{1} << 16;
constexpr int kGzipOnly = 15 + 16;  // windowBits: 32 KiB window, gzip wrapper only

}  // namespace

FileSource::FileSource(std::string path) : path_(std::move(path)) {
  file_ = std::fopen(path_.c_str(), "rb");
  if (file_ == nullptr) fail("{}: cannot open: {}", path_, std::strerror(errno));
  // Sniff the gzip magic; whatever was read is served (or inflated) first.
  std::byte head[2];
  const size_t got = std::fread(head, 1, sizeof head, file_);
  if (std::ferror(file_)) fail("{}: cannot read: {}", path_, std::strerror(errno));
  gzipped_ = got == 2 && head[0] == std::byte{0x1f} && head[1] == std::byte{0x8b};
  if (!gzipped_) {
    pending_.assign(head, head + got);
    return;
  }
  zs_ = std::make_unique<z_stream>();
  std::memset(zs_.get(), 0, sizeof(z_stream));
  if (inflateInit2(zs_.get(), kGzipOnly) != Z_OK) {
    zs_.reset();
    fail("{}: cannot start zlib's inflate", path_);
  }
  input_.resize(kInputChunk);
  std::memcpy(input_.data(), head, 2);
  zs_->next_in = input_.data();
  zs_->avail_in = 2;
}

FileSource::~FileSource() {
  if (zs_) inflateEnd(zs_.get());
  if (file_ != nullptr) std::fclose(file_);
}

size_t FileSource::read(std::byte* out, size_t size) {
  return gzipped_ ? read_gzip(out, size) : read_plain(out, size);
}

size_t FileSource::read_plain(std::byte* out, size_t size) {
  size_t produced = std::min(size, pending_.size());
  if (produced > 0) {
    std::memcpy(out, pending_.data(), produced);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(produced));
  }
  while (produced < size) {
    const size_t got = std::fread(out + produced, 1, size - produced, file_);
    if (std::ferror(file_)) fail("{}: cannot read: {}", path_, std::strerror(errno));
    if (got == 0) break;
    produced += got;
  }
  return produced;
}

bool FileSource::more_input() {
  if (zs_->avail_in > 0) return true;
  const size_t got = std::fread(input_.data(), 1, input_.size(), file_);
  if (std::ferror(file_)) fail("{}: cannot read: {}", path_, std::strerror(errno));
  zs_->next_in = input_.data();
  zs_->avail_in = static_cast<uInt>(got);
  return got > 0;
}

size_t FileSource::read_gzip(std::byte* out, size_t size) {
  size_t produced = 0;
  while (produced < size) {
    if (member_ended_) {
      // Another gzip member may follow (gzip allows concatenation); anything
      // else after the stream is refused.
      if (!more_input()) break;
      if (zs_->next_in[0] != 0x1f) fail("{}: trailing data after the gzip stream", path_);
      inflateReset(zs_.get());
      member_ended_ = false;
    }
    if (!more_input()) {
      stream_cut_ = true;
      break;
    }
    const size_t room = std::min<size_t>(size - produced, UINT_MAX);
    zs_->next_out = reinterpret_cast<Bytef*>(out + produced);
    zs_->avail_out = static_cast<uInt>(room);
    const int rc = inflate(zs_.get(), Z_NO_FLUSH);
    produced += room - zs_->avail_out;
    if (rc == Z_STREAM_END) {
      member_ended_ = true;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      fail("{}: corrupt gzip data ({})", path_, zs_->msg != nullptr ? zs_->msg : zError(rc));
    }
  }
  return produced;
}

}  // namespace hm::data
