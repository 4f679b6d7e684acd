// ByteSink: where an encoder sends the bytes it produces, in order, as a few
// large chunks (a header, then the tensor's own bytes) so that a writer can
// pass tensor data to write(2) without copying it first. A sink may throw
// hm::Error (a full disk); encoders let it propagate. The chunk is only valid
// during the call.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>

namespace hm {

using ByteSink = std::function<void(std::span<const std::byte>)>;

// A sink that appends to `out`, which must outlive the sink.
inline ByteSink append_to(std::string& out) {
  return [&out](std::span<const std::byte> chunk) {
    out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
  };
}

}  // namespace hm
