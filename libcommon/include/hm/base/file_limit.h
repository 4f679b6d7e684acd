// The open-file limit (RLIMIT_NOFILE) of a process that holds many sockets:
// hm-dht --nodes N (one UDP socket per node), hm-serve (one per connection),
// hm-bench (its servers and clients in one process).
//
// Any thread; it changes a process-wide setting.
#pragma once

#include <cstddef>
#include <limits>

namespace hm {

// Raises the soft open-file limit toward `wanted` (never past the hard
// limit, never lowering it) and returns the soft limit now in effect, which
// is below `wanted` when the hard limit is. Without an argument, raises it
// to the hard limit.
size_t raise_file_limit(size_t wanted = std::numeric_limits<size_t>::max());

}  // namespace hm
