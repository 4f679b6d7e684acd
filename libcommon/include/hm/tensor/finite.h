// find_non_finite: the first NaN or infinity in a floating-point tensor, so
// that a server can refuse poisoned inputs and gradients before they reach an
// expert's weights (hivemind's detect_anomalies, on the server side).
//
// float32, float64, float16 and bfloat16 are scanned on their bit patterns (a
// value is non-finite when its exponent bits are all ones), 16 KiB blocks at a
// time in a branch-free loop that the compiler vectorizes, because it sits on
// every request's path. Integer and bool tensors are always finite. Pure
// functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

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

// A copy of `tensor` in a fresh buffer, and its first non-finite element,
// found in the same pass (each block is scanned while it is in L1 after its
// copy): what a server pays per request tensor instead of a copy, then a
// second trip through memory to scan. The copy may stop at a non-finite
// block (the tensor is refused then anyway).
std::pair<HostTensor, std::optional<NonFinite>> copy_finding_non_finite(const HostTensor& tensor);

// Checks every tensor; throws hm::Error naming the first bad one: "`what`:
// tensor 0 has a non-finite value (NaN) at element 17; refused (`why`)".
void require_finite(std::span<const HostTensor> tensors, std::string_view what,
                    std::string_view why);

// Throws that error for element `bad` of tensor `index`.
[[noreturn]] void fail_non_finite(const NonFinite& bad, size_t index, std::string_view what,
                                  std::string_view why);

}  // namespace hm
