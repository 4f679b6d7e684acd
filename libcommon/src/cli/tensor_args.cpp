#include "hm/cli/tensor_args.h"

#include "hm/base/error.h"

namespace hm::cli {
namespace {

bool is_stdin(const std::string& path) { return path.empty() || path == "-"; }

}  // namespace

bool stdin_is_terminal() { return isatty(STDIN_FILENO) != 0; }

std::vector<HostTensor> read_piped_stdin(const TensorArgs& args, std::string_view hint) {
  if (args.stdin_terminal) throw UsageError(std::string(hint));
  return read_tensors(args.read_stdin(), args.format, args.text_dtype);
}

std::vector<HostTensor> read_tensor_file(const TensorArgs& args, const std::string& path) {
  return read_tensors(read_file(path), args.format, args.text_dtype);
}

std::vector<HostTensor> read_tensor_arg(const TensorArgs& args, const std::string& path,
                                        std::string_view hint) {
  return is_stdin(path) ? read_piped_stdin(args, hint) : read_tensor_file(args, path);
}

std::vector<HostTensor> read_tensor_args(const TensorArgs& args,
                                         const std::vector<std::string>& paths,
                                         std::string_view hint) {
  if (paths.empty()) {
    auto tensors = read_piped_stdin(args, hint);
    if (tensors.empty()) fail("stdin: no tensors in it");
    return tensors;
  }
  std::vector<HostTensor> tensors;
  for (const auto& path : paths) {
    auto bytes = path == "-" ? args.read_stdin() : read_file(path);
    auto more = read_tensors(bytes, args.format, args.text_dtype);
    if (more.empty()) fail("{}: no tensors in it", path);
    tensors.insert(tensors.end(), more.begin(), more.end());
  }
  return tensors;
}

void write_tensor_result(const TensorArgs& args, const std::string& path,
                         std::span<const HostTensor> tensors) {
  if (is_stdin(path)) {
    write_tensors(args.stdout_fd, tensors, args.format, "stdout");
  } else {
    write_tensors_to_file(path, tensors, args.format);
  }
}

const HostTensor& one_float_tensor(const std::vector<HostTensor>& tensors, std::string_view what) {
  if (tensors.size() != 1) fail("{}: expected one tensor, got {}", what, tensors.size());
  const auto& tensor = tensors[0];
  if (tensor.shape.size() < 2 || !is_floating(tensor.dtype)) {
    fail("{}: expected a float tensor [batch, ..., features], got {}", what, describe(tensor));
  }
  return tensor;
}

}  // namespace hm::cli
