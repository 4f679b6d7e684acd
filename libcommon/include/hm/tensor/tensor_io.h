// Tensors in and out of files and pipes, for the command-line tools: one
// place that knows the three formats (npy, text, capnp), reads whole inputs
// and writes outputs with errors that name the file.
//
// Reading keeps the tensors zero-copy where the format allows: tensors read by
// read_tensors(shared_ptr<const std::string>, ...) may point into that string
// and hold it. Writing goes straight to a file descriptor with write(2), the
// tensor's bytes without an intermediate copy for npy; nothing is buffered, so
// nothing needs flushing. A write to a closed pipe fails with EPIPE only if
// the process ignores SIGPIPE (the tools do). Functions are reentrant; calls
// on one descriptor must not overlap.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hm/tensor/host_tensor.h"
#include "hm/tensor/limits.h"

namespace hm {

enum class TensorFormat { Npy, Text, Capnp };

// "npy", "text", "capnp". Throws hm::UsageError for anything else:
// "--format: unknown format 'x' (use npy, text, capnp)".
TensorFormat format_from_name(std::string_view name);
std::string_view format_name(TensorFormat format);

// Every tensor in `bytes`: consecutive .npy records, blank-line-separated text
// blocks (parsed as `text_dtype`), or consecutive capnp messages. The tensors
// own copies of what they need.
std::vector<HostTensor> read_tensors(std::string_view bytes, TensorFormat format,
                                     DType text_dtype = DType::Float32,
                                     const TensorLimits& limits = {});

// Same, but the tensors may point into `*bytes` and hold `bytes`.
std::vector<HostTensor> read_tensors(std::shared_ptr<const std::string> bytes,
                                     TensorFormat format, DType text_dtype = DType::Float32,
                                     const TensorLimits& limits = {});

// The whole file / standard input. Throws hm::Error naming the path and the
// system's reason: "cannot open 'x.npy': No such file or directory".
std::string read_file(const std::string& path);
std::string read_all_stdin();

// All of `tensors` in `format`, as one byte string (text: separated by empty
// lines).
std::string encode_tensors(std::span<const HostTensor> tensors, TensorFormat format);

// Writes all of `tensors` to `fd`, retrying short writes and EINTR. Throws
// hm::Error naming `output_name` on failure: "cannot write stdout: Broken pipe".
void write_tensors(int fd, std::span<const HostTensor> tensors, TensorFormat format,
                   std::string_view output_name = "stdout");

// Creates (or truncates) `path` and writes all of `tensors` to it; a failure
// to open, write or close names the path.
void write_tensors_to_file(const std::string& path, std::span<const HostTensor> tensors,
                           TensorFormat format);

}  // namespace hm
