// Throughput clients as separate processes (hm-bench throughput
// --client-processes), like hivemind's benchmark, which forks one process per
// client.
//
// The parent re-executes hm-bench as `ARGV... --spec TEXT` (ARGV is e.g.
// {"/proc/self/exe", "_client"}; TEXT is encode(ClientSpec)). A child talks
// on its stdout, one line at a time:
//   ready            connected and warmed up; it then waits for a line on stdin
//   tick             one timed batch done
//   result TEXT      encode(ClientResult), then it exits 0
// The parent releases every child at once (one line on each stdin) after all
// of them are ready, so that they start together. A child's stderr is the
// parent's.
//
// Threads: both functions block the calling thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "hm/bench/client.h"

namespace hm::bench {

// Parent side: runs one child per spec and returns their results in spec
// order. `tick` is called once per timed batch of any child. Throws
// hm::Error when a child cannot start, dies, or exits non-zero (the others
// are killed).
std::vector<ClientResult> run_client_processes(const std::vector<std::string>& argv,
                                               const std::vector<ClientSpec>& specs,
                                               const std::function<void()>& tick = {});

// Child side: runs the client described by `spec_text` with the protocol
// above on stdin/stdout. Returns the exit code.
int client_process_main(const std::string& spec_text);

// The path of this process's executable (/proc/self/exe resolved), to
// re-execute it as a client; "/proc/self/exe" itself when it cannot be read.
std::string self_executable();

}  // namespace hm::bench
