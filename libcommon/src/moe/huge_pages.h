// advise_huge_pages: asks the kernel to back the whole 2 MiB-aligned pages
// inside a fresh, untouched buffer with transparent huge pages
// (madvise(MADV_HUGEPAGE)), before anything writes to it.
//
// Expert weights are written once when an expert is built: hundreds of MiB
// for a server's experts, where 4 KiB pages mean one page fault per 4 KiB
// (in a VM each fault is a trap to the hypervisor) and the matmuls walk the
// TLB for every page. With huge pages the first write faults once per 2 MiB.
// The kernel ignores the advice where THP is off ("never"); with "always" it
// does this unasked. Buffers under 4 MiB are left alone. Thread-safe; never
// fails (an error from madvise only means the advice is not taken).
// Private to the moe module.
#pragma once

#include <cstddef>

namespace hm::moe::detail {

void advise_huge_pages(void* data, size_t bytes);

}  // namespace hm::moe::detail
