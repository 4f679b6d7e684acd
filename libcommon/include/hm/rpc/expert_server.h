// ExpertRpcServer: serves an ExpertHost over Cap'n Proto RPC on TCP.
//
// Every accepted connection gets its own two-party RPC system whose
// bootstrap capability is the ExpertServer interface (schemas/expert.capnp).
// Request tensors are decoded as views into the request message (no copy);
// the call is not cancellable, so the message outlives the task that reads
// it. Results come back from runtime threads through a kj cross-thread
// fulfiller and are encoded straight into the response (one memcpy). A
// request's `timeoutMs` becomes the task's CallDeadline on this server's
// steady clock at arrival; the host drops the task if it is still queued
// then (call_deadline.h).
//
// Responses (outputs, input gradients) are compressed as the
// CompressionPolicy says, and info's schemas name its kind for floating
// tensors; requests are decoded whatever kind they name.
//
// Limits (ServerLimits): a frame over max_message_bytes closes its
// connection; each call's tensors are checked by decode_request_tensors; a
// connection may have max_in_flight forward/backward calls unanswered; at
// max_connections, a new connection replaces the oldest one that has made
// no call yet, else it is closed. Refusals are logged through RefusalLog
// (one full line, then one summary, per second and kind); accept() failures
// such as EMFILE are retried after 100 ms instead of ending the server.
//
// Threads: everything but the ExpertHost's runtime runs on the EventLoop's
// thread; construct, use and destroy the server there.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hm/base/address.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/expert_host.h"
#include "hm/rpc/server_limits.h"
#include "hm/tensor/compression.h"

namespace hm::rpc {

class ExpertRpcServer {
 public:
  ExpertRpcServer(io::EventLoop& loop, ExpertHost& host, ServerLimits limits = {},
                  CompressionPolicy compression = {});
  ~ExpertRpcServer();
  ExpertRpcServer(const ExpertRpcServer&) = delete;
  ExpertRpcServer& operator=(const ExpertRpcServer&) = delete;

  // Binds `address` (port 0 = any free port) and starts accepting. Returns
  // the bound address. Throws hm::Error when the address cannot be bound.
  HostPort listen(const HostPort& address);

  // Stops accepting connections; calls that arrive from now on fail with
  // "server shutting down". Calls already queued finish or fail through the
  // host.
  void stop_accepting();

  // Connections open now.
  size_t connection_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hm::rpc
