#include "hm/rpc/expert_client.h"

#include <capnp/rpc-twoparty.h>

#include "hm/base/error.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/rpc_errors.h"
#include "hm/rpc/wire_expert.h"
#include "pinned_write_stream.h"
#include "shared_message_stream.h"
#include "tensor_lists.h"

namespace hm::rpc {

struct ExpertClient::Impl {
  Impl(HostPort server_in, kj::Own<kj::AsyncIoStream> stream_in, CompressionPolicy compression_in)
      : server(std::move(server_in)),
        compression(compression_in),
        pins(std::make_shared<SendPins>()),
        stream(kj::heap<PinnedWriteStream>(kj::mv(stream_in), pins)),
        incoming(std::make_shared<IncomingBuffers>()),
        messages(*stream, incoming),
        network(messages, capnp::rpc::twoparty::Side::CLIENT, reader_options()),
        rpc(capnp::makeRpcClient(network)),
        expert(bootstrap()) {}

  static capnp::ReaderOptions reader_options() {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = (uint64_t{1} << 31) / sizeof(capnp::word);
    return options;
  }

  wire::ExpertServer::Client bootstrap() {
    capnp::word scratch[4];
    memset(scratch, 0, sizeof(scratch));
    capnp::MallocMessageBuilder message(scratch);
    auto vat_id = message.getRoot<capnp::rpc::twoparty::VatId>();
    vat_id.setSide(capnp::rpc::twoparty::Side::SERVER);
    return rpc.bootstrap(vat_id).castAs<wire::ExpertServer>();
  }

  // Rewrites a failure so that it says which server and what went wrong.
  template <typename T>
  kj::Promise<T> annotate(kj::Promise<T>&& promise) {
    io::expect_soon();  // the reply (busy polling, when on)
    // Captures the address by value: the promise may outlive this client.
    return promise.catch_([where = server.to_string()](kj::Exception&& e) -> kj::Promise<T> {
      std::string reason = describe_exception(e);
      if (e.getType() == kj::Exception::Type::DISCONNECTED) {
        reason = fmt::format("lost connection to {}: {}", where, reason);
      }
      return remote_exception(reason);
    });
  }

  HostPort server;
  CompressionPolicy compression;  // of requests
  std::shared_ptr<SendPins> pins;  // of requests not written yet
  kj::Own<kj::AsyncIoStream> stream;
  std::shared_ptr<IncomingBuffers> incoming;  // responses, which outputs may view
  SharedMessageStream messages;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
  wire::ExpertServer::Client expert;
};

namespace {

// The request's `timeoutMs`: what is left of `deadline` now, 0 without one
// (no clock read then). nullopt when it has already passed.
std::optional<uint32_t> budget_to_send(const CallDeadline& deadline) {
  if (deadline.none()) return 0;
  const auto now = CallDeadline::Clock::now();
  if (deadline.passed(now)) return std::nullopt;
  return deadline.wire_budget(now);
}

constexpr const char* kExpiredBeforeSending =
    "deadline exceeded: the budget ran out before the request was sent";

}  // namespace

kj::Promise<kj::Own<ExpertClient>> ExpertClient::connect(io::EventLoop& loop, HostPort server,
                                                         CompressionPolicy compression) {
  auto& network = loop.provider().getNetwork();
  auto where = server.to_string();
  return network.parseAddress(server.host.c_str(), server.port)
      .then([](kj::Own<kj::NetworkAddress> address) {
        return address->connect().attach(kj::mv(address));
      })
      .then(
          [server, compression](kj::Own<kj::AsyncIoStream> stream) {
            return kj::heap<ExpertClient>(kj::heap<Impl>(server, kj::mv(stream), compression));
          },
          [where](kj::Exception&& e) -> kj::Own<ExpertClient> {
            throw remote_exception(
                fmt::format("cannot connect to {}: {}", where, describe_exception(e)));
          });
}

ExpertClient::ExpertClient(kj::Own<Impl> impl) : impl_(kj::mv(impl)) {}
ExpertClient::~ExpertClient() noexcept = default;

const HostPort& ExpertClient::server() const { return impl_->server; }

kj::Promise<ExpertDescription> ExpertClient::info(const std::string& uid) {
  auto request = impl_->expert.infoRequest();
  request.setUid(uid);
  return impl_->annotate(request.send().then(
      [](capnp::Response<wire::ExpertServer::InfoResults> response) {
        return from_wire(response.getInfo());
      }));
}

kj::Promise<std::vector<HostTensor>> ExpertClient::forward(const std::string& uid,
                                                           std::span<const HostTensor> inputs,
                                                           CallDeadline deadline) {
  const auto budget = budget_to_send(deadline);
  if (!budget) return remote_exception(kExpiredBeforeSending);
  const auto plan = plan_wire(inputs, impl_->compression);
  auto request = impl_->expert.forwardRequest(message_size_for(inputs, plan));
  request.setUid(uid);
  request.setTimeoutMs(*budget);
  ReferencedTensors referenced;
  encode_tensor_list(inputs, plan, request.initInputs(inputs.size()), referenced);
  pin_referenced(*impl_->pins, referenced);
  return impl_->annotate(request.send().then(
      [incoming = impl_->incoming](capnp::Response<wire::ExpertServer::ForwardResults> response) {
        return read_tensor_list(response.getOutputs(), *incoming);
      }));
}

kj::Promise<std::vector<HostTensor>> ExpertClient::backward(
    const std::string& uid, std::span<const HostTensor> inputs,
    std::span<const HostTensor> grad_outputs, CallDeadline deadline) {
  const auto budget = budget_to_send(deadline);
  if (!budget) return remote_exception(kExpiredBeforeSending);
  const auto input_plan = plan_wire(inputs, impl_->compression);
  const auto grad_plan = plan_wire(grad_outputs, impl_->compression);
  auto size = message_size_for(inputs, input_plan);
  size.wordCount += message_size_for(grad_outputs, grad_plan).wordCount;
  auto request = impl_->expert.backwardRequest(size);
  request.setUid(uid);
  request.setTimeoutMs(*budget);
  ReferencedTensors referenced;
  encode_tensor_list(inputs, input_plan, request.initInputs(inputs.size()), referenced);
  encode_tensor_list(grad_outputs, grad_plan, request.initGradOutputs(grad_outputs.size()),
                     referenced);
  pin_referenced(*impl_->pins, referenced);  // only once both lists are in
  return impl_->annotate(request.send().then(
      [incoming = impl_->incoming](capnp::Response<wire::ExpertServer::BackwardResults> response) {
        return read_tensor_list(response.getGradInputs(), *incoming);
      }));
}

kj::Promise<std::vector<std::string>> ExpertClient::list() {
  return impl_->annotate(impl_->expert.listRequest().send().then(
      [](capnp::Response<wire::ExpertServer::ListResults> response) {
        std::vector<std::string> uids;
        for (auto uid : response.getUids()) uids.emplace_back(uid.cStr());
        return uids;
      }));
}

kj::Promise<void> ExpertClient::on_disconnect() { return impl_->network.onDisconnect(); }

}  // namespace hm::rpc
