// An in-process swarm for client tests: a few DHT nodes and expert servers
// on one background event loop, all on 127.0.0.1.
#pragma once

#include <future>
#include <memory>
#include <optional>

#include "hm/dht/node_group.h"
#include "hm/io/loop_thread.h"
#include "hm/moe/expert_server_host.h"
#include "hm/rpc/expert_server.h"
#include "hm/discovery/expert_declarer.h"

namespace hm::client::test {

class LocalSwarm {
 public:
  explicit LocalSwarm(size_t dht_nodes = 4) {
    auto joined = net_.call<bool>([&](io::EventLoop& loop) {
      dht::DhtConfig config;
      config.listen = io::Endpoint::parse("127.0.0.1:0", "test");
      dht_ = std::make_unique<dht::NodeGroup>(loop, config, dht_nodes);
      return dht_->bootstrap({}, true).then([] { return true; });
    });
    joined.get();
  }

  ~LocalSwarm() {
    run([&] {
      servers_.clear();
      dht_.reset();
    });
  }

  // "127.0.0.1:port" of DHT node 0, to join through.
  std::string dht_address() {
    std::string address;
    run([&] { address = dht::reachable_address(dht_->node(0).address()).to_string(); });
    return address;
  }

  // Starts a server hosting `config`'s experts and declares them. Returns
  // its index (for kill()).
  size_t add_server(moe::ExpertServerConfig config, double update_period = 30) {
    auto server = std::make_unique<Server>();
    server->host = std::make_unique<moe::ExpertServerHost>(config);
    size_t accepted_before = 0;
    run([&] {
      server->rpc = std::make_unique<rpc::ExpertRpcServer>(net_.loop(), *server->host);
      server->address = server->rpc->listen({"127.0.0.1", 0});
      server->declarer = std::make_unique<discovery::ExpertDeclarer>(
          net_.loop(), dht_->node(servers_.size() % dht_->size()), config.uids,
          server->address, update_period);
      server->declarer->start();
    });
    // Wait (boundedly) until the first declaration landed.
    for (int i = 0; i < 400; ++i) {
      run([&] { accepted_before = server->declarer->accepted(); });
      if (accepted_before > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    size_t index = servers_.size();
    run([&] { servers_.push_back(std::move(server)); });
    return index;
  }

  // The server vanishes: no more answers, no more declarations.
  void kill(size_t index) {
    run([&] {
      servers_[index]->declarer.reset();
      servers_[index]->rpc.reset();
    });
    servers_[index]->host->stop();
  }

  HostPort address(size_t index) { return servers_[index]->address; }

 private:
  struct Server {
    std::unique_ptr<moe::ExpertServerHost> host;
    std::unique_ptr<rpc::ExpertRpcServer> rpc;
    std::unique_ptr<discovery::ExpertDeclarer> declarer;
    HostPort address;
  };

  // Runs `fn` on the loop thread and waits for it.
  template <typename F>
  void run(F fn) {
    std::promise<void> done;
    net_.post([&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  io::LoopThread net_;
  std::unique_ptr<dht::NodeGroup> dht_;
  std::vector<std::unique_ptr<Server>> servers_;
};

}  // namespace hm::client::test
