// find_non_finite: the first NaN or infinity in a floating-point tensor, so
// that a server can refuse poisoned inputs and gradients before they reach an
// expert's weights (hivemind's detect_anomalies, on the server side).
//
// float32, float64, float16 and bfloat16 are scanned on their bit patterns (a
// value is non-finite when its exponent bits are all ones), in one branch-free
// pass that the compiler vectorizes: it runs at memory speed, because it sits
// on every request's path. Integer and bool tensors are always finite. Pure
// functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "hm/tensor/host_tensor.h"

namespace hm {

struct NonFinite {
  int64_t index = 0;  // flat, C-order element index
  bool nan = false;   // NaN; else +-infinity
  const char* kind() const { return nan ? "NaN" : "Inf"; }
};

// The first non-finite element of `tensor`; nullopt when all are finite (or
// the dtype is not floating point).
std::optional<NonFinite> find_non_finite(const HostTensor& tensor);

// Checks every tensor; throws hm::Error naming the first bad one: "`what`:
// tensor 0 has a non-finite value (NaN) at element 17; refused (`why`)".
void require_finite(std::span<const HostTensor> tensors, std::string_view what,
                    std::string_view why);

}  // namespace hm
