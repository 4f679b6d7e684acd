// tune_allocator: glibc malloc settings for processes that move tensors.
//
// With glibc's defaults a 1 MiB message or tensor is fresh memory from the
// kernel every time (its own mmap, or the top of a per-thread arena trimmed
// with MADV_DONTNEED), and the page faults and zeroing halve a nop server's
// throughput; and a per-thread arena (64 MiB heaps) holding 8-32 MiB
// activations and optimizer state unmaps a heap as soon as it empties, so a
// runtime thread takes ~3x the page faults of the same work on the main
// thread. tune_allocator() keeps buffers up to 32 MiB in one arena that holds
// up to 256 MiB free. Call it first thing in main(), before any thread starts.
#pragma once

namespace hm {

void tune_allocator();

}  // namespace hm
