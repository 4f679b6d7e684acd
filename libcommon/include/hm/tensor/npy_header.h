// The header dictionary of a .npy record, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// parsed strictly (exactly the three keys, each once; only the Python literal
// forms numpy writes) but tolerant of numpy's spacing, key order, quote style
// and trailing commas. npy.h uses it; it is public so that tests and tools can
// look at a header without decoding the data. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hm/tensor/host_tensor.h"

namespace hm {

struct NpyHeader {
  DType dtype = DType::Float32;
  bool big_endian = false;     // the file's bytes are big-endian
  bool fortran_order = false;  // the file's elements are in column-major order
  std::vector<int64_t> shape;  // unchecked beyond "each entry fits an int64_t"
};

// Parses the dictionary text (without the magic and length prefix). Throws
// hm::Error naming the problem: "npy header: unsupported descr '<c8'",
// "npy header: missing key 'shape'", "npy header: expected ',' or '}' at
// offset 17".
NpyHeader parse_npy_header(std::string_view text);

// The dictionary text numpy would write for `header` (without padding):
// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }". bfloat16 is
// written as the structured descr [('bfloat16', '<u2')] (see npy.h).
std::string format_npy_header(const NpyHeader& header);

}  // namespace hm
