// ExpertDeclarer: keeps a server's experts visible in the DHT.
//
// It declares every uid (hivemind's layout, see expert_records.h) at once
// and then every `update_period` seconds, each time with an expiration of
// twice the period, so a server that dies vanishes from the swarm within two
// periods and one that stalls for less than a period never does. stop()
// ends the declarations (the records then expire on their own).
//
// Threads: construct, use and destroy on the DHT node's loop thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hm/base/address.h"
#include "hm/dht/node.h"
#include "hm/io/event_loop.h"
#include "hm/io/uv_timer.h"
#include "hm/discovery/expert_records.h"

namespace hm::discovery {

class ExpertDeclarer {
 public:
  // `server` is the address clients should call (its host must be one they
  // can reach, not 0.0.0.0).
  ExpertDeclarer(io::EventLoop& loop, dht::DhtNode& node, std::vector<std::string> uids,
                 HostPort server, double update_period_s);
  ~ExpertDeclarer();
  ExpertDeclarer(const ExpertDeclarer&) = delete;
  ExpertDeclarer& operator=(const ExpertDeclarer&) = delete;

  void start();
  void stop();

  // Declarations that at least one replica accepted / that none did.
  size_t accepted() const { return accepted_; }
  size_t refused() const { return refused_; }

 private:
  void declare();

  io::EventLoop& loop_;
  dht::DhtNode& node_;
  std::vector<std::string> uids_;
  HostPort server_;
  double update_period_s_;
  io::Timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  size_t accepted_ = 0;
  size_t refused_ = 0;
};

// Looks `uids` up: one result per uid, nullopt for those not declared (or
// expired).
kj::Promise<std::vector<std::optional<ExpertLocation>>> find_experts(
    dht::DhtNode& node, std::vector<std::string> uids);

}  // namespace hm::discovery
