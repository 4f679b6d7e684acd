// FileSource: the bytes of a file, inflated on the fly when it is gzipped
// (detected by the 1f 8b magic). Private to hm_data.
//
// read() never inflates more than it is asked for, so a caller that knows how
// many bytes to expect can bound the work a hostile file causes. Gzip errors
// and I/O errors throw hm::Error naming the path. One thread at a time.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace hm::data {

class FileSource {
 public:
  // Throws hm::Error "<path>: cannot open: <strerror>".
  explicit FileSource(std::string path);
  ~FileSource();
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  // Fills `out` with up to `size` bytes; fewer only at the end of the data
  // (then stream_cut() says whether a gzip stream ended early).
  size_t read(std::byte* out, size_t size);

  bool gzipped() const { return gzipped_; }
  // True after read() hit the end of the file in the middle of a gzip stream.
  bool stream_cut() const { return stream_cut_; }
  const std::string& path() const { return path_; }

 private:
  size_t read_plain(std::byte* out, size_t size);
  size_t read_gzip(std::byte* out, size_t size);
  // Refills the compressed buffer when it is empty; false at end of file.
  bool more_input();

  std::string path_;
  std::FILE* file_ = nullptr;
  bool gzipped_ = false;
  bool stream_cut_ = false;
  // Plain files: bytes read while sniffing the magic, served first.
  std::vector<std::byte> pending_;
  // Gzip: the inflater and its input buffer.
  std::unique_ptr<z_stream> zs_;
  std::vector<unsigned char> input_;
  bool member_ended_ = false;  // inflate reached the end of a gzip member
};

}  // namespace hm::data
