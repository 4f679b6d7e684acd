#include "hm/torch/torch_errors.h"

#include <c10/util/Exception.h>

#include <string_view>

namespace hm {

std::string one_line_what(const std::exception& error) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
  std::string_view text =
      torch_error != nullptr ? torch_error->what_without_backtrace() : error.what();
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  return text.empty() ? std::string("unknown error") : std::string(text);
}

}  // namespace hm
