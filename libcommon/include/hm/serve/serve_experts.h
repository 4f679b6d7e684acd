// hm-serve's command with its experts: hm::cli::serve (flags, RPC, DHT,
// signals; torch-free) over an hm::moe::ExpertServerHost (the experts, their
// pools, runtimes and checkpoints). The one module that joins the two.
//
// Threads: serve_experts() runs on the calling thread until SIGINT/SIGTERM.
#pragma once

#include <string>
#include <vector>

#include "hm/cli/serve_command.h"
#include "hm/moe/expert_server_host.h"

namespace hm::serve {

// The experts' configuration that hm-serve's flags describe, for `uids`.
// A flag left at 0 (--lr, --clip-grad-norm) keeps the library's default.
// Throws hm::UsageError for a malformed --module-input spec.
moe::ExpertServerConfig server_config(const cli::ServeFlags& flags,
                                      std::vector<std::string> uids);

// Checks the flags, chooses the uids, builds the experts and serves them.
// Returns the exit code (0); throws hm::UsageError or hm::Error.
int serve_experts(const cli::ServeFlags& flags);

}  // namespace hm::serve
