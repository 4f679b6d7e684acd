// ExpertClient: one Cap'n Proto RPC connection to one hm-serve process.
//
// Returned tensors are copied out of the response (one memcpy each), so they
// may travel to any thread. Errors from the server (unknown expert, wrong
// shape, ...) and from the network (refused, reset, timeout) arrive as
// rejected promises whose kj::Exception description is the one-line reason.
//
// Request tensors are compressed as the CompressionPolicy given to connect()
// says (default: none); responses are decoded whatever kind they name.
//
// forward/backward take the call's CallDeadline (default: none) and send
// what is left of it as the request's `timeoutMs` budget, so that the server
// drops the work once the caller has given up. A call whose deadline has
// already passed is not sent: it rejects at once with "deadline exceeded:
// the budget ran out before the request was sent". The deadline does not
// cancel anything here: the caller's own timer still does (wait_for,
// call_in_parallel).
//
// Threads: create, call and destroy on the EventLoop's thread. From other
// threads use it through io::LoopThread::call().
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include <kj/async.h>

#include "hm/base/address.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/expert_host.h"
#include "hm/tensor/compression.h"

namespace hm::rpc {

class ExpertClient {
 public:
  // Connects to `server`; rejects with "cannot connect to HOST:PORT: why".
  static kj::Promise<kj::Own<ExpertClient>> connect(io::EventLoop& loop, HostPort server,
                                                     CompressionPolicy compression = {});
  ~ExpertClient() noexcept;

  const HostPort& server() const;

  kj::Promise<ExpertDescription> info(const std::string& uid);
  kj::Promise<std::vector<HostTensor>> forward(const std::string& uid,
                                               std::span<const HostTensor> inputs,
                                               CallDeadline deadline = {});
  kj::Promise<std::vector<HostTensor>> backward(const std::string& uid,
                                                std::span<const HostTensor> inputs,
                                                std::span<const HostTensor> grad_outputs,
                                                CallDeadline deadline = {});
  kj::Promise<std::vector<std::string>> list();

  // Resolves when the server closes the connection.
  kj::Promise<void> on_disconnect();

  struct Impl;
  explicit ExpertClient(kj::Own<Impl> impl);

 private:
  kj::Own<Impl> impl_;
};

}  // namespace hm::rpc
