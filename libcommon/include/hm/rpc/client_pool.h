// ClientPool: one reusable connection per server, for callers that talk to
// many experts on many servers (the mixture-of-experts client, hm-bench).
//
// A connection is opened on first use and shared by every call to that
// server; concurrent first calls share one connect. A connection that fails
// or is closed by the server is forgotten, so the next call reconnects (a
// server that restarts is used again).
//
// Every connection compresses its requests as `compression` says.
//
// Threads: create, call and destroy on the EventLoop's thread.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include <kj/async.h>

#include "hm/base/address.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/expert_client.h"

namespace hm::rpc {

class ClientPool {
 public:
  explicit ClientPool(io::EventLoop& loop, CompressionPolicy compression = {});
  ~ClientPool() noexcept;
  ClientPool(const ClientPool&) = delete;
  ClientPool& operator=(const ClientPool&) = delete;

  kj::Promise<ExpertDescription> info(const HostPort& server, const std::string& uid);
  // `deadline` as for ExpertClient; its budget is taken when the request is
  // sent, after a first call's connect.
  kj::Promise<std::vector<HostTensor>> forward(const HostPort& server, const std::string& uid,
                                               std::vector<HostTensor> inputs,
                                               CallDeadline deadline = {});
  kj::Promise<std::vector<HostTensor>> backward(const HostPort& server, const std::string& uid,
                                                std::vector<HostTensor> inputs,
                                                std::vector<HostTensor> grad_outputs,
                                                CallDeadline deadline = {});

  // Connections open or opening now.
  size_t size() const { return entries_.size(); }

 private:
  struct Entry;
  // Resolves to the entry of a connected client; the reference keeps it alive
  // while a call starts even if the connection is forgotten meanwhile.
  kj::Promise<kj::Own<Entry>> client(const HostPort& server);
  void forget(const std::string& key, uint64_t generation);

  io::EventLoop& loop_;
  CompressionPolicy compression_;
  std::map<std::string, kj::Own<Entry>> entries_;
  uint64_t next_generation_ = 1;
  kj::Own<kj::TaskSet> tasks_;
};

}  // namespace hm::rpc
