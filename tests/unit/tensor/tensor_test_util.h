// Helpers shared by the tensor tests: temporary directories, running the
// numpy oracle, sample tensors of every dtype, and tensor comparison.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hm/tensor/host_tensor.h"

namespace hm::test {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
// when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int status = -1;  // exit status, or -1 when the command did not exit normally
  std::string out;  // its stdout
};

// Runs `command` with /bin/sh, capturing stdout (stderr goes to the test's).
CommandResult run_command(const std::string& command);

// Writes `script` to a file in `dir` and runs it with the numpy-capable Python
// (HM_PYTHON), passing `dir` as its one argument.
CommandResult run_python(const TempDir& dir, const std::string& script);

// A tensor of `dtype` and `shape` filled with varied values, including the
// edge cases of the type (extremes, -0, inf, nan, subnormals for floats).
HostTensor sample_tensor(DType dtype, std::vector<int64_t> shape);

// One sample tensor of every dtype, with assorted shapes (a scalar, 1-D, 3-D).
std::vector<HostTensor> sample_tensors();

// A tensor holding a copy of `values` (which must match dtype's size).
template <typename T>
HostTensor tensor_of(DType dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
  return HostTensor::copy_of(dtype, std::move(shape), std::as_bytes(std::span(values)));
}

// Same dtype, shape and bytes (bit for bit, so NaNs compare equal).
::testing::AssertionResult same_tensor(const HostTensor& a, const HostTensor& b);

// The message of the hm::Error that `f` throws, or "(no error)".
std::string error_of(const std::function<void()>& f);

std::span<const std::byte> bytes_of(const std::string& text);
void write_file(const std::string& path, std::span<const std::byte> bytes);
std::string read_whole(const std::string& path);

}  // namespace hm::test
