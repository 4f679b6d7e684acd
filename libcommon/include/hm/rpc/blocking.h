// Waiting on an RPC promise from the loop thread itself, as a command-line
// tool does: the loop runs until the promise resolves or the timeout passes.
// Failures come out as hm::Error with a one-line message, never as a raw
// kj::Exception.
#pragma once

#include <string_view>

#include <fmt/format.h>
#include <kj/async.h>

#include "hm/base/error.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/rpc_errors.h"

namespace hm::rpc {

// `what` names the operation for the timeout message ("info from 127.0.0.1:7000").
// timeout_s <= 0 waits forever.
template <typename T>
T wait_for(io::EventLoop& loop, kj::Promise<T>&& promise, double timeout_s,
           std::string_view what) {
  if (timeout_s > 0) {
    auto limit = static_cast<int64_t>(timeout_s * 1e6) * kj::MICROSECONDS;
    auto message = fmt::format("{}: no answer within {} s", what, timeout_s);
    promise = promise.exclusiveJoin(loop.timer().afterDelay(limit).then(
        [message]() -> kj::Promise<T> { return remote_exception(message); }));
  }
  try {
    return loop.wait(kj::mv(promise));
  } catch (const kj::Exception& e) {
    throw Error(describe_exception(e));
  }
}

}  // namespace hm::rpc
