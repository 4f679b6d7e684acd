// The text tensor format (`--format text`), for awk, paste and eyes.
//
// Writing: a tensor of shape [N, d1, d2, ...] is N lines, each with
// d1*d2*... values separated by single spaces; a 1-D tensor is one value per
// line, a scalar one line with one value. Tensors are separated by one empty
// line. Floats use the shortest representation that reads back to the same
// value (std::to_chars; nan, inf, -inf), integers are printed as integers,
// bools as 0/1. A tensor with no elements cannot be written (it would be no
// lines at all): hm::Error.
//
// Reading: each block of non-empty lines (up to an empty line or the end) is
// one tensor of shape [rows, columns] in the requested dtype; so a written
// [N, d1, d2] tensor reads back as [N, d1*d2], a 1-D [N] as [N, 1], a scalar
// as [1, 1]. Values are separated by spaces or tabs; lines may end in \r\n.
// Errors are one line naming the place: "text tensor: row 3 has 5 values,
// row 1 has 4 (line 7)", "text tensor: line 2: 'abc' is not a number",
// "text tensor: line 4: 300 is out of range for int8".
//
// Pure functions; any thread. Read tensors own their buffers.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hm/tensor/host_tensor.h"
#include "hm/tensor/limits.h"

namespace hm {

// Appends the lines of one tensor (each ending in '\n') to `out`.
void append_text(const HostTensor& tensor, std::string& out);

// All of `tensors`, separated by empty lines.
std::string format_text(std::span<const HostTensor> tensors);

// Every block in `text`, in order (none when `text` has only empty lines).
std::vector<HostTensor> parse_text(std::string_view text, DType dtype = DType::Float32,
                                   const TensorLimits& limits = {});

}  // namespace hm
