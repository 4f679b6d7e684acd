// quote(): a piece of untrusted input made safe to put in a one-line error
// message: control bytes escaped as \xNN, cut to `max_chars` with "..." at the
// end. Pure function; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hm {

std::string quote(std::string_view text, size_t max_chars = 40);

}  // namespace hm
