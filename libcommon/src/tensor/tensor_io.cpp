#include "hm/tensor/tensor_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hm/base/error.h"
#include "hm/tensor/byte_sink.h"
#include "hm/tensor/capnp_stream.h"
#include "hm/tensor/npy.h"
#include "hm/tensor/text_format.h"

namespace hm {
namespace {

std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

std::vector<HostTensor> decode(std::string_view bytes, std::shared_ptr<const void> owner,
                               TensorFormat format, DType text_dtype,
                               const TensorLimits& limits) {
  switch (format) {
    case TensorFormat::Npy: return decode_npy_all(as_bytes(bytes), std::move(owner), limits);
    case TensorFormat::Text: return parse_text(bytes, text_dtype, limits);
    case TensorFormat::Capnp:
      return decode_capnp_stream(as_bytes(bytes), std::move(owner), limits);
  }
  fail("unknown tensor format code {}", static_cast<int>(format));
}

// Sends every tensor to `sink` in `format`.
void encode(std::span<const HostTensor> tensors, TensorFormat format, const ByteSink& sink) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    switch (format) {
      case TensorFormat::Npy: encode_npy(tensors[i], sink); break;
      case TensorFormat::Capnp: encode_capnp(tensors[i], sink); break;
      case TensorFormat::Text: {
        std::string text = i > 0 ? "\n" : "";
        append_text(tensors[i], text);
        sink(as_bytes(text));
        break;
      }
    }
  }
}

// Reads `fd` to the end. `name` is for messages ("'x.npy'", "stdin").
std::string read_fd(int fd, const std::string& name) {
  std::string out;
  struct stat info {};
  if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && info.st_size > 0) {
    out.reserve(static_cast<size_t>(info.st_size));
  }
  char buffer[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) return out;
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read {}: {}", name, std::strerror(errno));
    }
    out.append(buffer, static_cast<size_t>(n));
  }
}

void write_all(int fd, std::span<const std::byte> chunk, std::string_view name) {
  while (!chunk.empty()) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write {}: {}", name, std::strerror(errno));
    }
    chunk = chunk.subspan(static_cast<size_t>(n));
  }
}

}  // namespace

TensorFormat format_from_name(std::string_view name) {
  if (name == "npy") return TensorFormat::Npy;
  if (name == "text") return TensorFormat::Text;
  if (name == "capnp") return TensorFormat::Capnp;
  throw UsageError(fmt::format("--format: unknown format '{}' (use npy, text, capnp)", name));
}

std::string_view format_name(TensorFormat format) {
  switch (format) {
    case TensorFormat::Npy: return "npy";
    case TensorFormat::Text: return "text";
    case TensorFormat::Capnp: return "capnp";
  }
  return "unknown";
}

std::vector<HostTensor> read_tensors(std::string_view bytes, TensorFormat format,
                                     DType text_dtype, const TensorLimits& limits) {
  return decode(bytes, nullptr, format, text_dtype, limits);
}

std::vector<HostTensor> read_tensors(std::shared_ptr<const std::string> bytes,
                                     TensorFormat format, DType text_dtype,
                                     const TensorLimits& limits) {
  std::string_view view = *bytes;
  return decode(view, std::move(bytes), format, text_dtype, limits);
}

std::string read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open '{}': {}", path, std::strerror(errno));
  try {
    std::string out = read_fd(fd, fmt::format("'{}'", path));
    ::close(fd);
    return out;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

std::string read_all_stdin() { return read_fd(STDIN_FILENO, "stdin"); }

std::string encode_tensors(std::span<const HostTensor> tensors, TensorFormat format) {
  std::string out;
  encode(tensors, format, append_to(out));
  return out;
}

void write_tensors(int fd, std::span<const HostTensor> tensors, TensorFormat format,
                   std::string_view output_name) {
  encode(tensors, format,
         [&](std::span<const std::byte> chunk) { write_all(fd, chunk, output_name); });
}

void write_tensors_to_file(const std::string& path, std::span<const HostTensor> tensors,
                           TensorFormat format) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create '{}': {}", path, std::strerror(errno));
  std::string name = fmt::format("'{}'", path);
  try {
    write_tensors(fd, tensors, format, name);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) fail("cannot write {}: {}", name, std::strerror(errno));
}

}  // namespace hm
