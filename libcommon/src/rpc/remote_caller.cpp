#include "hm/rpc/remote_caller.h"

namespace hm::rpc {

RemoteCaller::RemoteCaller(CompressionPolicy compression) {
  std::promise<void> made;
  thread_.post([this, &made, compression] {
    pool_ = std::make_unique<ClientPool>(thread_.loop(), compression);
    made.set_value();
  });
  made.get_future().get();
}

RemoteCaller::~RemoteCaller() {
  std::promise<void> gone;
  thread_.post([this, &gone] {
    pool_.reset();
    gone.set_value();
  });
  gone.get_future().wait();
}

std::future<ExpertDescription> RemoteCaller::info(HostPort server, std::string uid) {
  return run<ExpertDescription>([server, uid](io::EventLoop&, ClientPool& pool) {
    return pool.info(server, uid);
  });
}

std::future<std::vector<HostTensor>> RemoteCaller::forward(HostPort server, std::string uid,
                                                           std::vector<HostTensor> inputs) {
  return run<std::vector<HostTensor>>(
      [server, uid, inputs = std::move(inputs)](io::EventLoop&, ClientPool& pool) mutable {
        return pool.forward(server, uid, std::move(inputs));
      });
}

std::future<std::vector<HostTensor>> RemoteCaller::backward(HostPort server, std::string uid,
                                                            std::vector<HostTensor> inputs,
                                                            std::vector<HostTensor> grads) {
  return run<std::vector<HostTensor>>(
      [server, uid, inputs = std::move(inputs), grads = std::move(grads)](
          io::EventLoop&, ClientPool& pool) mutable {
        return pool.backward(server, uid, std::move(inputs), std::move(grads));
      });
}

}  // namespace hm::rpc
