#include "hm/tensor/tensor_spec_parse.h"

#include <charconv>

#include "hm/base/error.h"

namespace hm {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

TensorSpec parse_tensor_spec(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return UsageError(fmt::format("bad tensor spec '{}': {} (expected e.g. float32[*, 64])",
                                  text, why));
  };
  auto open = text.find('[');
  if (open == std::string_view::npos || text.back() != ']') throw bad("missing [dims]");
  TensorSpec spec;
  try {
    spec.dtype = dtype_from_name(trim(text.substr(0, open)));
  } catch (const Error& e) {
    throw bad(e.what());
  }
  auto dims = text.substr(open + 1, text.size() - open - 2);
  if (trim(dims).empty()) return spec;  // a scalar
  while (true) {
    auto comma = dims.find(',');
    auto item = trim(dims.substr(0, comma));
    if (item == "*" || item == "-1") {
      spec.shape.push_back(-1);
    } else {
      int64_t value = -1;
      auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
      if (item.empty() || ec != std::errc() || end != item.data() + item.size() || value < 0) {
        throw bad(fmt::format("dimension '{}' is not a size or *", item));
      }
      spec.shape.push_back(value);
    }
    if (comma == std::string_view::npos) break;
    dims.remove_prefix(comma + 1);
  }
  return spec;
}

}  // namespace hm
