// InProcessServer: an expert server inside hm-bench (what hm-serve runs, minus
// the command line): an ExpertServerHost with its runtime thread, and an
// ExpertRpcServer on a LoopThread of its own, listening on loopback.
//
// It times its two startup phases the way hivemind's benchmark reports
// them: building the experts, then networking (event loop, listening socket).
//
// Threads: construct, stop() and destroy on one thread; the server's loop
// and runtime run on their own threads. Ownership: owns all of it.
#pragma once

#include <memory>

#include "hm/base/address.h"
#include "hm/moe/expert_server_host.h"
#include "hm/tensor/compression.h"

namespace hm::bench {

class InProcessServer {
 public:
  // Builds the experts and starts listening on `listen` (port 0 = any free
  // port), compressing responses as `compression` says. Throws what
  // ExpertServerHost and ExpertRpcServer::listen throw.
  explicit InProcessServer(const moe::ExpertServerConfig& config,
                           HostPort listen = {"127.0.0.1", 0},
                           CompressionPolicy compression = {});
  ~InProcessServer();  // stop()
  InProcessServer(const InProcessServer&) = delete;
  InProcessServer& operator=(const InProcessServer&) = delete;

  const HostPort& address() const { return address_; }
  double experts_startup_s() const { return experts_s_; }
  double networking_startup_s() const { return networking_s_; }
  moe::ExpertServerHost& host() { return *host_; }

  // Stops accepting, fails queued tasks, closes connections. Idempotent.
  void stop();

 private:
  struct Net;
  std::unique_ptr<moe::ExpertServerHost> host_;
  std::unique_ptr<Net> net_;
  HostPort address_;
  double experts_s_ = 0;
  double networking_s_ = 0;
};

}  // namespace hm::bench
