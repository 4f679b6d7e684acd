#include "huge_pages.h"

#include <sys/mman.h>

#include <cstdint>

namespace hm::moe::detail {
namespace {

constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
constexpr size_t kMinBytes = size_t{4} << 20;

}  // namespace

void advise_huge_pages(void* data, size_t bytes) {
  if (bytes < kMinBytes) return;
  const auto begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t last = (begin + bytes) & ~(kHugePage - 1);
  if (last <= first) return;
  madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

}  // namespace hm::moe::detail
