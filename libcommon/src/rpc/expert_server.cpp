#include "hm/rpc/expert_server.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <list>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/rpc/request_tensors.h"
#include "hm/rpc/rpc_errors.h"
#include "hm/rpc/wire_expert.h"
#include "hm/wire/expert.capnp.h"

namespace hm::rpc {
namespace {

using Fulfiller = kj::Own<kj::CrossThreadPromiseFulfiller<TaskOutcome>>;

// Hands a TaskDone to the host that fulfills a promise on the loop thread.
TaskDone fulfill_on_done(Fulfiller fulfiller) {
  auto holder = std::make_shared<Fulfiller>(kj::mv(fulfiller));
  return [holder](TaskOutcome outcome) { (*holder)->fulfill(kj::mv(outcome)); };
}

class ExpertServerImpl final : public wire::ExpertServer::Server {
 public:
  ExpertServerImpl(ExpertHost& host, const ServerLimits& limits, const bool& stopping)
      : host_(host), limits_(limits), stopping_(stopping) {}

  kj::Promise<void> info(InfoContext context) override {
    return answer([&]() -> kj::Promise<void> {
      std::string uid = context.getParams().getUid();
      auto description = host_.describe(uid);
      if (!description) throw Error(unknown_expert_message(host_, uid));
      to_wire(*description, context.getResults().initInfo());
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> list(ListContext context) override {
    return answer([&]() -> kj::Promise<void> {
      auto uids = host_.uids();
      auto out = context.getResults().initUids(uids.size());
      for (size_t i = 0; i < uids.size(); ++i) out.set(i, uids[i]);
      return kj::READY_NOW;
    });
  }

  kj::Promise<void> forward(ForwardContext context) override {
    return answer([&]() -> kj::Promise<void> {
      auto params = context.getParams();
      std::string uid = params.getUid();
      auto inputs = decode_request_tensors(params.getInputs(), limits_, "forward inputs");
      auto paf = kj::newPromiseAndCrossThreadFulfiller<TaskOutcome>();
      host_.submit_forward(uid, std::move(inputs), fulfill_on_done(kj::mv(paf.fulfiller)));
      return paf.promise.then([context](TaskOutcome outcome) mutable {
        if (!outcome.ok()) throw_remote(outcome.error);
        auto results = context.initResults(message_size_for(outcome.outputs));
        encode_tensor_list(outcome.outputs, results.initOutputs(outcome.outputs.size()));
      });
    });
  }

  kj::Promise<void> backward(BackwardContext context) override {
    return answer([&]() -> kj::Promise<void> {
      auto params = context.getParams();
      std::string uid = params.getUid();
      auto tensors = decode_request_tensors(params.getInputs(), limits_, "backward inputs");
      auto grads = decode_request_tensors(params.getGradOutputs(), limits_,
                                          "backward grad_outputs");
      tensors.insert(tensors.end(), grads.begin(), grads.end());
      auto paf = kj::newPromiseAndCrossThreadFulfiller<TaskOutcome>();
      host_.submit_backward(uid, std::move(tensors), fulfill_on_done(kj::mv(paf.fulfiller)));
      return paf.promise.then([context](TaskOutcome outcome) mutable {
        if (!outcome.ok()) throw_remote(outcome.error);
        auto results = context.initResults(message_size_for(outcome.outputs));
        encode_tensor_list(outcome.outputs, results.initGradInputs(outcome.outputs.size()));
      });
    });
  }

 private:
  // Runs a handler; an hm::Error (or any exception) becomes an RPC exception
  // whose description is the one-line message.
  template <typename F>
  kj::Promise<void> answer(F&& handler) {
    if (stopping_) return remote_error("server shutting down");
    try {
      return handler();
    } catch (const std::exception& e) {
      spdlog::info("refused a request: {}", e.what());
      return remote_error(e.what());
    }
  }

  ExpertHost& host_;
  const ServerLimits& limits_;
  const bool& stopping_;
};

struct Connection {
  Connection(kj::Own<kj::AsyncIoStream> stream_in, capnp::Capability::Client bootstrap,
             capnp::ReaderOptions options)
      : stream(kj::mv(stream_in)),
        network(*stream, capnp::rpc::twoparty::Side::SERVER, options),
        rpc(capnp::makeRpcServer(network, kj::mv(bootstrap))) {}

  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
};

// A non-blocking TCP socket bound to `address` and listening.
int bind_listening_socket(const HostPort& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  auto port = std::to_string(address.port);
  int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) fail("cannot listen on {}: {}", address.to_string(), gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("cannot listen on {}: {}", address.to_string(), strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
    int error = errno;
    close(fd);
    fail("cannot listen on {}: {}", address.to_string(), strerror(error));
  }
  return fd;
}

}  // namespace

struct ExpertRpcServer::Impl : kj::TaskSet::ErrorHandler {
  Impl(io::EventLoop& loop_in, ExpertHost& host, ServerLimits limits_in)
      : loop(loop_in),
        limits(limits_in),
        bootstrap(kj::heap<ExpertServerImpl>(host, limits, stopping)),
        tasks(*this) {}

  void taskFailed(kj::Exception&& exception) override {
    spdlog::warn("connection error: {}", exception.getDescription().cStr());
  }

  kj::Promise<void> accept_loop(kj::ConnectionReceiver& receiver) {
    return receiver.accept().then([this, &receiver](kj::Own<kj::AsyncIoStream> stream) {
      if (stopping) return;
      if (connections.size() >= limits.max_connections) {
        spdlog::warn("refused a connection: {} connections open (limit {})",
                     connections.size(), limits.max_connections);
        return;
      }
      capnp::ReaderOptions options;
      options.traversalLimitInWords = limits.max_message_bytes / sizeof(capnp::word);
      connections.emplace_front(kj::mv(stream), bootstrap, options);
      auto it = connections.begin();
      tasks.add(it->network.onDisconnect().then([this, it] { connections.erase(it); }));
    }).then([this, &receiver] { return accept_loop(receiver); });
  }

  io::EventLoop& loop;
  ServerLimits limits;
  bool stopping = false;
  wire::ExpertServer::Client bootstrap;
  std::list<Connection> connections;
  kj::Own<kj::ConnectionReceiver> receiver;
  kj::TaskSet tasks;
  kj::Promise<void> accepting = nullptr;
};

ExpertRpcServer::ExpertRpcServer(io::EventLoop& loop, ExpertHost& host, ServerLimits limits)
    : impl_(std::make_unique<Impl>(loop, host, limits)) {}

ExpertRpcServer::~ExpertRpcServer() = default;

HostPort ExpertRpcServer::listen(const HostPort& address) {
  // Bound here rather than through kj's parseAddress() so that it may be
  // called from inside event callbacks (no waiting on the loop).
  int fd = bind_listening_socket(address);
  impl_->receiver = impl_->loop.low_level().wrapListenSocketFd(
      fd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
  HostPort bound{address.host, static_cast<uint16_t>(impl_->receiver->getPort())};
  impl_->accepting = impl_->accept_loop(*impl_->receiver).eagerlyEvaluate([](kj::Exception&& e) {
    spdlog::error("stopped accepting connections: {}", e.getDescription().cStr());
  });
  return bound;
}

void ExpertRpcServer::stop_accepting() {
  impl_->stopping = true;
  impl_->accepting = nullptr;
  impl_->receiver = nullptr;
}

size_t ExpertRpcServer::connection_count() const { return impl_->connections.size(); }

}  // namespace hm::rpc
