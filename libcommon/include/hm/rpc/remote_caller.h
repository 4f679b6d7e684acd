// RemoteCaller: expert calls from any thread, for torch code that cannot run
// on the event loop. It owns a LoopThread and a ClientPool on it; every call
// becomes a std::future. Requests are compressed as `compression` says.
//
// Threads: any thread may call; destroy it from the owning thread after the
// futures it handed out are no longer waited on (pending ones then fail).
#pragma once

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "hm/base/address.h"
#include "hm/io/loop_thread.h"
#include "hm/rpc/client_pool.h"

namespace hm::rpc {

class RemoteCaller {
 public:
  explicit RemoteCaller(CompressionPolicy compression = {});
  ~RemoteCaller();
  RemoteCaller(const RemoteCaller&) = delete;
  RemoteCaller& operator=(const RemoteCaller&) = delete;

  std::future<ExpertDescription> info(HostPort server, std::string uid);
  std::future<std::vector<HostTensor>> forward(HostPort server, std::string uid,
                                               std::vector<HostTensor> inputs);
  std::future<std::vector<HostTensor>> backward(HostPort server, std::string uid,
                                                std::vector<HostTensor> inputs,
                                                std::vector<HostTensor> grad_outputs);

  // For code that runs its own kj logic on the loop (the mixture's parallel
  // calls): `fn(loop, pool)` runs on the loop thread.
  template <typename T, typename F>
  std::future<T> run(F fn) {
    return thread_.call<T>([this, fn = std::move(fn)](io::EventLoop& loop) mutable {
      return fn(loop, *pool_);
    });
  }

 private:
  io::LoopThread thread_;
  std::unique_ptr<ClientPool> pool_;  // lives on the loop thread
};

}  // namespace hm::rpc
