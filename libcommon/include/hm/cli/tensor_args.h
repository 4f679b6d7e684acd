// The tensor arguments of hm-call and hm-moe: -i/-g files, stdin, and the
// result on stdout or -o, in the --format the user chose. One place for what
// the tools promise about them: '-' is stdin, a terminal on stdin is a usage
// error (the user forgot the input), a file without tensors is an error
// that names it.
//
// Pure over a TensorArgs value; the process's stdin and stdout are its
// defaults, replaceable in tests. Throws hm::Error (hm::UsageError where the
// user must change the command line) with one line naming the file.
#pragma once

#include <unistd.h>

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hm/tensor/host_tensor.h"
#include "hm/tensor/tensor_io.h"

namespace hm::cli {

// True when the process's stdin is a terminal.
bool stdin_is_terminal();

struct TensorArgs {
  TensorFormat format = TensorFormat::Npy;
  DType text_dtype = DType::Float32;  // text tensors carry no dtype
  bool stdin_terminal = stdin_is_terminal();
  std::function<std::string()> read_stdin = read_all_stdin;
  int stdout_fd = STDOUT_FILENO;
};

// Every tensor of stdin. Throws hm::UsageError(`hint`) when stdin is a
// terminal: "no input: give -i FILE or pipe a tensor".
std::vector<HostTensor> read_piped_stdin(const TensorArgs& args, std::string_view hint);

// Every tensor of the file `path` (none is no error here).
std::vector<HostTensor> read_tensor_file(const TensorArgs& args, const std::string& path);

// hm-moe's -i: the tensors of `path`, or of stdin (read_piped_stdin) when
// `path` is "" or "-".
std::vector<HostTensor> read_tensor_arg(const TensorArgs& args, const std::string& path,
                                        std::string_view hint);

// hm-call's -i and -g (repeatable): the tensors of every path in order
// ('-' = stdin, even a terminal), each holding one at least ("x.npy: no
// tensors in it"); without paths, stdin (read_piped_stdin), which must hold
// one at least ("stdin: no tensors in it").
std::vector<HostTensor> read_tensor_args(const TensorArgs& args,
                                         const std::vector<std::string>& paths,
                                         std::string_view hint);

// The result: to stdout when `path` is "" or "-", else to the file `path`
// (created or truncated).
void write_tensor_result(const TensorArgs& args, const std::string& path,
                         std::span<const HostTensor> tensors);

// The only tensor of `tensors`, a floating-point one of shape [batch, ...,
// features]; else hm::Error naming `what`: "input: expected one tensor, got
// 2", "-g: expected a float tensor [batch, ..., features], got int64[4]".
const HostTensor& one_float_tensor(const std::vector<HostTensor>& tensors, std::string_view what);

}  // namespace hm::cli
