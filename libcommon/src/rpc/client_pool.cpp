#include "hm/rpc/client_pool.h"

#include "hm/base/log.h"
#include "hm/rpc/rpc_errors.h"

namespace hm::rpc {
namespace {

class IgnoreErrors : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&&) override {}
};
IgnoreErrors ignore_errors;

}  // namespace

struct ClientPool::Entry : kj::Refcounted {
  uint64_t generation = 0;
  kj::ForkedPromise<void> connected = nullptr;  // resolves once `client` is set
  kj::Own<ExpertClient> client;
};

ClientPool::ClientPool(io::EventLoop& loop, CompressionPolicy compression)
    : loop_(loop), compression_(compression), tasks_(kj::heap<kj::TaskSet>(ignore_errors)) {}

ClientPool::~ClientPool() noexcept = default;

void ClientPool::forget(const std::string& key, uint64_t generation) {
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second->generation == generation) entries_.erase(it);
}

kj::Promise<kj::Own<ClientPool::Entry>> ClientPool::client(const HostPort& server) {
  auto key = server.to_string();
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    auto entry = kj::refcounted<Entry>();
    auto* raw = entry.get();
    raw->generation = next_generation_++;
    uint64_t generation = raw->generation;
    raw->connected =
        ExpertClient::connect(loop_, server, compression_)
            .then(
                [this, raw, key, generation](kj::Own<ExpertClient> client) {
                  raw->client = kj::mv(client);
                  tasks_->add(raw->client->on_disconnect().then(
                      [this, key, generation] { forget(key, generation); }));
                },
                [this, key, generation](kj::Exception&& e) {
                  // Forget after the waiters have seen the error.
                  tasks_->add(kj::evalLater([this, key, generation] { forget(key, generation); }));
                  kj::throwFatalException(kj::mv(e));
                })
            .fork();
    it = entries_.emplace(key, kj::mv(entry)).first;
  }
  auto ref = kj::addRef(*it->second);
  auto* entry = ref.get();
  return entry->connected.addBranch().then([ref = kj::mv(ref)]() mutable { return kj::mv(ref); });
}

kj::Promise<ExpertDescription> ClientPool::info(const HostPort& server, const std::string& uid) {
  return client(server).then([uid](kj::Own<Entry> entry) {
    return entry->client->info(uid).attach(kj::mv(entry));
  });
}

kj::Promise<std::vector<HostTensor>> ClientPool::forward(const HostPort& server,
                                                         const std::string& uid,
                                                         std::vector<HostTensor> inputs,
                                                         CallDeadline deadline) {
  return client(server).then([uid, inputs = std::move(inputs), deadline](kj::Own<Entry> entry) {
    return entry->client->forward(uid, inputs, deadline).attach(kj::mv(entry));
  });
}

kj::Promise<std::vector<HostTensor>> ClientPool::backward(const HostPort& server,
                                                          const std::string& uid,
                                                          std::vector<HostTensor> inputs,
                                                          std::vector<HostTensor> grad_outputs,
                                                          CallDeadline deadline) {
  return client(server).then([uid, inputs = std::move(inputs), grads = std::move(grad_outputs),
                              deadline](kj::Own<Entry> entry) {
    return entry->client->backward(uid, inputs, grads, deadline).attach(kj::mv(entry));
  });
}

}  // namespace hm::rpc
