#include "hm/rpc/expert_server.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/base/refusal_log.h"
#include "hm/rpc/request_tensors.h"
#include "hm/rpc/rpc_errors.h"
#include "hm/rpc/wire_expert.h"
#include "server_metrics.h"
#include "tensor_lists.h"
#include "hm/wire/expert.capnp.h"
#include "frame_limit_stream.h"
#include "pinned_write_stream.h"
#include "shared_message_stream.h"
#include "task_handoff.h"

namespace hm::rpc {
namespace {

// What the server knows of one connection's calls; shared by the Connection
// and its ExpertServerImpl (whose capability may briefly outlive it).
struct CallState {
  uint64_t calls = 0;      // calls made so far, of any method
  uint32_t in_flight = 0;  // forward/backward calls not answered yet
};

// Adds one to a gauge for its lifetime (a connection open, a call in flight).
class GaugeHold {
 public:
  explicit GaugeHold(metrics::Gauge& gauge) : gauge_(gauge) { gauge_.add(1); }
  ~GaugeHold() { gauge_.add(-1); }
  GaugeHold(const GaugeHold&) = delete;
  GaugeHold& operator=(const GaugeHold&) = delete;

 private:
  metrics::Gauge& gauge_;
};

// One forward/backward call in flight on a connection, from admission until
// its promise is done or dropped.
class InFlightCall {
 public:
  InFlightCall(std::shared_ptr<CallState> state, metrics::Gauge& in_flight)
      : state_(std::move(state)), hold_(in_flight) {
    ++state_->in_flight;
  }
  ~InFlightCall() { --state_->in_flight; }
  InFlightCall(const InFlightCall&) = delete;
  InFlightCall& operator=(const InFlightCall&) = delete;

 private:
  std::shared_ptr<CallState> state_;
  GaugeHold hold_;
};

// The refusal logs the server shares among its connections.
struct RefusalLogs {
  RefusalLog requests{"requests"};
  RefusalLog connections{"connections"};
};

// What a server's connections read and log through. Shared, because a
// connection's capability and its calls' pending responses may outlive the
// server that made them.
struct ServerShared {
  ServerShared(const ServerLimits& limits_in, const CompressionPolicy& compression_in,
               const std::vector<std::string>& uids)
      : limits(limits_in), compression(compression_in), metrics(uids) {}

  ServerLimits limits;
  CompressionPolicy compression;  // of responses
  bool stopping = false;
  RefusalLogs refusals;
  ServerMetrics metrics;
};

// Cap'n Proto sends no message over the connection's own limit, which is
// --max-message-mb: refuse such a response naming the flag instead.
void require_sendable(std::span<const HostTensor> outputs, const WirePlan& plan,
                      uint64_t max_message_bytes, RefusalLog& refusals, std::string_view what) {
  const uint64_t bytes = message_bytes_bound(outputs, plan);
  if (bytes <= max_message_bytes) return;
  std::string message = fmt::format("{}: a response of {} bytes exceeds the limit of {} MiB "
                                    "(--max-message-mb)", what, bytes, max_message_bytes >> 20);
  refusals.refused("max-message-mb", [&] { return "refused a response: " + message; });
  throw_remote(message);
}

// A request's deadline on this server's clock, counted from its arrival
// (now: before its tensors are decoded); no clock read without a budget.
CallDeadline deadline_of(uint32_t timeout_ms) {
  if (timeout_ms == 0) return {};
  return CallDeadline::after_budget(timeout_ms, CallDeadline::Clock::now());
}

// The bootstrap capability of one connection.
class ExpertServerImpl final : public wire::ExpertServer::Server {
 public:
  ExpertServerImpl(ExpertHost& host, std::shared_ptr<ServerShared> server,
                   std::shared_ptr<CallState> state, std::shared_ptr<SendPins> pins,
                   std::shared_ptr<IncomingBuffers> incoming)
      : host_(host), server_(std::move(server)), limits_(server_->limits),
        state_(std::move(state)), pins_(std::move(pins)), incoming_(std::move(incoming)) {}

  kj::Promise<void> info(InfoContext context) override {
    std::string uid = context.getParams().getUid();
    return answer_call(CallMethod::info, uid, context, [&](MethodMetrics&) -> kj::Promise<void> {
      auto description = host_.describe(uid);
      if (!description) throw Error(unknown_expert_message(host_, uid));
      to_wire(*description, context.getResults().initInfo(), server_->compression.kind);
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
    std::string uid = context.getParams().getUid();
    return answer_call(CallMethod::forward, uid, context, [&](MethodMetrics& metrics) {
      auto params = context.getParams();
      const auto deadline = deadline_of(params.getTimeoutMs());
      auto call = admit_call();
      auto inputs = decode_request_tensors(params.getInputs(), limits_, "forward inputs",
                                           message_owner(params.getInputs(), *incoming_));
      auto [task_finished, done] = task_handoff();
      host_.submit_forward(uid, std::move(inputs), std::move(done), deadline);
      return respond(kj::mv(task_finished), context, metrics, "forward outputs",
                     [](auto results, unsigned n) { return results.initOutputs(n); })
          .attach(kj::mv(call));
    });
  }

  kj::Promise<void> backward(BackwardContext context) override {
    std::string uid = context.getParams().getUid();
    return answer_call(CallMethod::backward, uid, context, [&](MethodMetrics& metrics) {
      auto params = context.getParams();
      const auto deadline = deadline_of(params.getTimeoutMs());
      auto call = admit_call();
      auto owner = message_owner(params.getInputs(), *incoming_);
      if (!owner) owner = message_owner(params.getGradOutputs(), *incoming_);
      auto tensors = decode_request_tensors(params.getInputs(), limits_, "backward inputs", owner);
      auto grads = decode_request_tensors(params.getGradOutputs(), limits_,
                                          "backward grad_outputs", owner);
      tensors.insert(tensors.end(), grads.begin(), grads.end());
      auto [task_finished, done] = task_handoff();
      host_.submit_backward(uid, std::move(tensors), std::move(done), deadline);
      return respond(kj::mv(task_finished), context, metrics, "backward grad_inputs",
                     [](auto results, unsigned n) { return results.initGradInputs(n); })
          .attach(kj::mv(call));
    });
  }

 private:
  // Fills the call's results, once its task is done, with the task's
  // outputs in the list that `init_list(results, count)` makes; a failed
  // task or a response too large to send fails the call instead. The
  // connection owns the promise; the refusal logs outlive it.
  template <typename Context, typename InitList>
  kj::Promise<void> respond(kj::Promise<TaskOutcome> finished, Context context,
                            MethodMetrics& metrics, std::string_view what, InitList init_list) {
    return finished.then([context, &metrics, what, init_list, pins = pins_,
                          server = server_](TaskOutcome outcome) mutable {
      io::expect_soon();  // the client's next call
      if (!outcome.ok()) throw_remote(outcome.error);
      const auto plan = plan_wire(outcome.outputs, server->compression);
      require_sendable(outcome.outputs, plan, server->limits.max_message_bytes,
                       server->refusals.requests, what);
      auto results = context.initResults(message_size_for(outcome.outputs, plan));
      ReferencedTensors referenced;
      encode_tensor_list(outcome.outputs, plan, init_list(results, outcome.outputs.size()),
                         referenced);
      pin_referenced(*pins, referenced);
      metrics.sent_bytes->inc(static_cast<double>(results.asReader().totalSize().wordCount *
                                                  sizeof(capnp::word)));
    });
  }

  // Runs a call's handler with the series of its expert and method, and
  // counts the call's size and outcome there.
  template <typename Context, typename F>
  kj::Promise<void> answer_call(CallMethod method, std::string_view uid, Context& context,
                                F&& handler) {
    auto& metrics = server_->metrics.of(uid, method);
    metrics.received_bytes->inc(
        static_cast<double>(context.getParams().totalSize().wordCount * sizeof(capnp::word)));
    return answer([&] { return handler(metrics); })
        .then([&metrics, server = server_] { metrics.ok->inc(); },
              [&metrics, server = server_](kj::Exception&& e) {
                server->metrics.failed(metrics, describe_exception(e));
                kj::throwFatalException(kj::mv(e));
              });
  }

  // Runs a handler; an hm::Error (or any exception) becomes an RPC exception
  // whose description is the one-line message.
  template <typename F>
  kj::Promise<void> answer(F&& handler) {
    ++state_->calls;
    io::expect_soon();  // a task's outcome, or the client's next call (busy polling, when on)
    if (server_->stopping) return remote_error("server shutting down");
    try {
      return handler();
    } catch (const std::exception& e) {
      std::string message = e.what();
      server_->refusals.requests.refused(flag_named_in(message),
                                         [&] { return "refused a request: " + message; });
      return remote_error(message);
    }
  }

  // Counts a forward/backward call against --max-in-flight until the
  // returned guard is dropped; throws when the connection is at the limit.
  kj::Own<InFlightCall> admit_call() {
    require(state_->in_flight < limits_.max_in_flight,
            "too many calls in flight on this connection (limit {}, --max-in-flight)",
            limits_.max_in_flight);
    return kj::heap<InFlightCall>(state_, server_->metrics.in_flight);
  }

  ExpertHost& host_;
  std::shared_ptr<ServerShared> server_;
  const ServerLimits& limits_;  // server_'s
  std::shared_ptr<CallState> state_;
  std::shared_ptr<SendPins> pins_;  // the connection's: responses not written yet
  std::shared_ptr<IncomingBuffers> incoming_;  // the connection's requests, for views
};

struct Connection {
  Connection(kj::Own<kj::AsyncIoStream> stream_in, std::shared_ptr<IncomingBuffers> incoming,
             capnp::Capability::Client bootstrap, capnp::ReaderOptions options,
             std::shared_ptr<CallState> state_in, metrics::Gauge& open_connections)
      : open(open_connections),
        stream(kj::mv(stream_in)),
        messages(*stream, std::move(incoming)),
        network(messages, capnp::rpc::twoparty::Side::SERVER, options),
        rpc(capnp::makeRpcServer(network, kj::mv(bootstrap))),
        state(std::move(state_in)) {}

  GaugeHold open;
  kj::Own<kj::AsyncIoStream> stream;
  SharedMessageStream messages;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
  std::shared_ptr<CallState> state;
  // Removes the connection once the peer hangs up; owned here so that
  // closing the connection first cancels it.
  kj::Promise<void> watch = nullptr;
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
  Impl(io::EventLoop& loop_in, ExpertHost& host_in, ServerLimits limits_in,
       CompressionPolicy compression_in)
      : loop(loop_in), host(host_in),
        shared(std::make_shared<ServerShared>(limits_in, compression_in, host_in.uids())),
        tasks(*this) {}

  void taskFailed(kj::Exception&& exception) override {
    spdlog::warn("connection error: {}", exception.getDescription().cStr());
  }

  kj::Promise<void> accept_loop(kj::ConnectionReceiver& receiver) {
    // evalNow: accept() may throw at once (EMFILE) instead of rejecting.
    return kj::evalNow([&receiver] { return receiver.accept(); })
        .then(
            [this](kj::Own<kj::AsyncIoStream> stream) -> kj::Promise<void> {
              admit(kj::mv(stream));
              return kj::READY_NOW;
            },
              [this](kj::Exception&& e) -> kj::Promise<void> {
                // Out of file descriptors (EMFILE) and the like: the
                // connection waits in the backlog; try again shortly rather
                // than stop accepting for good.
                std::string why = e.getDescription().cStr();
                refusals.connections.refused(
                    "", [&] { return "cannot accept a connection: " + why + "; retrying in 100 ms"; });
                return loop.timer().afterDelay(100 * kj::MILLISECONDS);
              })
        .then([this, &receiver] { return accept_loop(receiver); });
  }

  // Takes a new connection within --max-connections: at the limit, it
  // replaces the oldest connection that has made no call yet (a peer that
  // connected and said nothing), else it is closed at once.
  void admit(kj::Own<kj::AsyncIoStream> stream) {
    if (stopping) return;
    if (connections.size() >= limits.max_connections && !evict_a_silent_connection()) {
      refusals.connections.refused("max-connections", [&] {
        return fmt::format("refused a connection: {} connections open, each has made calls "
                           "(limit {}, --max-connections)",
                           connections.size(), limits.max_connections);
      });
      return;
    }
    // Frames over --max-message-mb are refused by the stream, naming the
    // flag; ReaderOptions stays as Cap'n Proto's own backstop.
    stream = kj::heap<FrameLimitStream>(kj::mv(stream), limits.max_message_bytes,
                                        [this](const std::string& message) {
                                          refusals.requests.refused("max-message-mb", [&] {
                                            return "refused a request: " + message;
                                          });
                                        });
    capnp::ReaderOptions options;
    options.traversalLimitInWords = limits.max_message_bytes / sizeof(capnp::word) + 64;
    auto pins = std::make_shared<SendPins>();
    stream = kj::heap<PinnedWriteStream>(kj::mv(stream), pins);
    auto incoming = std::make_shared<IncomingBuffers>();
    auto state = std::make_shared<CallState>();
    wire::ExpertServer::Client bootstrap = kj::heap<ExpertServerImpl>(
        host, shared, state, kj::mv(pins), incoming);
    uint64_t id = next_id++;
    auto& connection =
        connections
            .try_emplace(id, kj::mv(stream), kj::mv(incoming), kj::mv(bootstrap), options, state,
                         shared->metrics.connections)
            .first->second;
    connection.watch = connection.network.onDisconnect()
                           .then([this, id] {
                             // Not from inside the watch itself, which the erase destroys.
                             tasks.add(kj::evalLater([this, id] { connections.erase(id); }));
                           })
                           .eagerlyEvaluate([this, id](kj::Exception&& e) {
                             spdlog::debug("connection {}: {}", id, e.getDescription().cStr());
                             tasks.add(kj::evalLater([this, id] { connections.erase(id); }));
                           });
  }

  bool evict_a_silent_connection() {
    for (auto it = connections.begin(); it != connections.end(); ++it) {  // oldest first
      if (it->second.state->calls == 0) {
        connections.erase(it);
        refusals.connections.refused("max-connections", [&] {
          return fmt::format("closed a connection that made no call: {} connections open "
                             "(limit {}, --max-connections)",
                             connections.size() + 1, limits.max_connections);
        });
        return true;
      }
    }
    return false;
  }

  io::EventLoop& loop;
  ExpertHost& host;
  std::shared_ptr<ServerShared> shared;  // before `connections`, which use it
  const ServerLimits& limits = shared->limits;
  bool& stopping = shared->stopping;
  RefusalLogs& refusals = shared->refusals;
  uint64_t next_id = 0;
  std::map<uint64_t, Connection> connections;  // by id = accept order
  kj::Own<kj::ConnectionReceiver> receiver;
  kj::TaskSet tasks;
  kj::Promise<void> accepting = nullptr;
};

ExpertRpcServer::ExpertRpcServer(io::EventLoop& loop, ExpertHost& host, ServerLimits limits,
                                 CompressionPolicy compression)
    : impl_(std::make_unique<Impl>(loop, host, limits, compression)) {}

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
