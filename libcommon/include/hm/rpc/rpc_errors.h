// How one-line errors cross the RPC boundary in both directions.
//
// A server turns an hm::Error into a kj::Exception whose description is the
// message alone; the client side strips Cap'n Proto's "remote exception: "
// prefix (and any "std::exception: " wrapping) so that users see the
// server's words exactly.
#pragma once

#include <string>
#include <string_view>

#include <kj/async.h>
#include <kj/exception.h>

#include "hm/rpc/expert_host.h"

namespace hm::rpc {

kj::Exception remote_exception(std::string_view message);

// A rejected promise carrying `message`.
kj::Promise<void> remote_error(std::string_view message);

[[noreturn]] void throw_remote(std::string_view message);

// The one-line reason inside a kj::Exception received from a peer or the
// network, without kj's prefixes.
std::string describe_exception(const kj::Exception& exception);

// "unknown expert 'ffn.9.9' (this server hosts 16 experts: ffn.0.0, ffn.0.1, ...)".
std::string unknown_expert_message(const ExpertHost& host, std::string_view uid);

}  // namespace hm::rpc
