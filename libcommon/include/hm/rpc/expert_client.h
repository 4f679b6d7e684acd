// ExpertClient: one Cap'n Proto RPC connection to one hm-serve process.
//
// Returned tensors are copied out of the response (one memcpy each), so they
// may travel to any thread. Errors from the server (unknown expert, wrong
// shape, ...) and from the network (refused, reset, timeout) arrive as
// rejected promises whose kj::Exception description is the one-line reason.
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

namespace hm::rpc {

class ExpertClient {
 public:
  // Connects to `server`; rejects with "cannot connect to HOST:PORT: why".
  static kj::Promise<kj::Own<ExpertClient>> connect(io::EventLoop& loop, HostPort server);
  ~ExpertClient() noexcept;

  const HostPort& server() const;

  kj::Promise<ExpertDescription> info(const std::string& uid);
  kj::Promise<std::vector<HostTensor>> forward(const std::string& uid,
                                               std::span<const HostTensor> inputs);
  kj::Promise<std::vector<HostTensor>> backward(const std::string& uid,
                                                std::span<const HostTensor> inputs,
                                                std::span<const HostTensor> grad_outputs);
  kj::Promise<std::vector<std::string>> list();

  // Resolves when the server closes the connection.
  kj::Promise<void> on_disconnect();

  struct Impl;
  explicit ExpertClient(kj::Own<Impl> impl);

 private:
  kj::Own<Impl> impl_;
};

}  // namespace hm::rpc
