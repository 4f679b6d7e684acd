#include "hm/bench/server.h"

#include <future>
#include <thread>

#include "hm/bench/stats.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/expert_server.h"

namespace hm::bench {

// The server's loop runs on a thread of its own (not an io::LoopThread:
// ExpertRpcServer::listen waits on the loop, which only works before run()).
struct InProcessServer::Net {
  std::thread thread;
  io::EventLoop* loop = nullptr;  // valid while `thread` runs
};

InProcessServer::InProcessServer(const moe::ExpertServerConfig& config, HostPort listen,
                                 CompressionPolicy compression) {
  double t0 = monotonic_seconds();
  host_ = std::make_unique<moe::ExpertServerHost>(config);
  double t1 = monotonic_seconds();
  net_ = std::make_unique<Net>();
  std::promise<HostPort> bound;
  auto future = bound.get_future();
  net_->thread = std::thread([this, &bound, listen, compression] {
    try {
      io::EventLoop loop;
      rpc::ExpertRpcServer server(loop, *host_, {}, compression);
      auto address = server.listen(listen);
      net_->loop = &loop;
      bound.set_value(address);
      loop.run();
      server.stop_accepting();
    } catch (...) {
      if (!net_->loop) bound.set_exception(std::current_exception());
    }
  });
  try {
    address_ = future.get();
  } catch (...) {
    net_->thread.join();
    net_.reset();
    throw;
  }
  if (address_.host == "0.0.0.0") address_.host = "127.0.0.1";
  networking_s_ = monotonic_seconds() - t1;
  experts_s_ = t1 - t0;
}

InProcessServer::~InProcessServer() { stop(); }

void InProcessServer::stop() {
  if (!net_) return;
  host_->stop();  // fails queued tasks
  net_->loop->stop();
  net_->thread.join();
  net_.reset();
}

}  // namespace hm::bench
