// Expert RPC request payloads as the server reads and decodes them: the
// fuzz bytes (after a first byte choosing forward or backward) are the
// stream of a connection, from which the server's SharedMessageStream reads
// one framed Cap'n Proto message with the server's ReaderOptions; its root
// is the call's params, decoded by decode_request_tensors with the default
// ServerLimits into views of the message's shared buffer, exactly as
// ExpertServer::forward/backward do. Views cost no memory, so the
// production decoding limits apply here too.
#include <kj/async.h>

#include "hm/base/error.h"
#include "hm/rpc/request_tensors.h"
#include "hm/wire/expert.capnp.h"
#include "rpc/shared_message_stream.h"
#include "rpc/tensor_lists.h"

namespace {

// Reads every byte of every tensor, so that ASan sees any view that points
// outside the message.
void touch(const std::vector<hm::HostTensor>& tensors) {
  unsigned sum = 0;
  for (const auto& tensor : tensors) {
    for (std::byte b : tensor.bytes) sum += static_cast<unsigned>(b);
  }
  volatile unsigned sink = sum;
  (void)sink;
}

template <typename Params>
void decode(capnp::MessageReader& reader, const hm::rpc::ServerLimits& limits,
            const hm::rpc::IncomingBuffers& buffers) {
  typename Params::Reader params;
  capnp::List<hm::wire::Tensor>::Reader inputs, grads;
  try {  // structure errors here are kj::Exceptions the RPC system answers with
    params = reader.getRoot<Params>();
    inputs = params.getInputs();
    if constexpr (std::is_same_v<Params, hm::wire::ExpertServer::BackwardParams>) {
      grads = params.getGradOutputs();
    }
    (void)params.getUid();
  } catch (const kj::Exception&) {
    return;
  }
  try {
    auto owner = hm::rpc::message_owner(inputs, buffers);
    if (!owner) owner = hm::rpc::message_owner(grads, buffers);
    touch(hm::rpc::decode_request_tensors(inputs, limits, "inputs", owner));
    touch(hm::rpc::decode_request_tensors(grads, limits, "grad_outputs", owner));
  } catch (const hm::Error&) {
  } catch (const kj::Exception&) {  // structure errors found while looking for the buffer
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static kj::EventLoop loop;
  kj::WaitScope wait(loop);
  const hm::rpc::ServerLimits limits;
  // The stream allocates the size a frame declares before its bytes arrive
  // (as capnp's own does, within --max-message-mb): 4 MiB here, not the
  // server's 1 GiB, so that a run costs microseconds and not a gigabyte of
  // ASan shadow memory; the decoding limits are the server's.
  capnp::ReaderOptions options;
  options.traversalLimitInWords = (uint64_t{4} << 20) / sizeof(capnp::word);
  auto pipe = kj::newTwoWayPipe();
  auto buffers = std::make_shared<hm::rpc::IncomingBuffers>();
  hm::rpc::SharedMessageStream stream(*pipe.ends[1], buffers);
  auto written = pipe.ends[0]
                     ->write(data + 1, size - 1)
                     .then([&] { pipe.ends[0]->shutdownWrite(); })
                     .eagerlyEvaluate([](kj::Exception&&) {});
  try {
    auto message = stream.tryReadMessage(nullptr, options, nullptr).wait(wait);
    KJ_IF_MAYBE(read, message) {
      if (data[0] % 2 == 0) {
        decode<hm::wire::ExpertServer::ForwardParams>(*read->reader, limits, *buffers);
      } else {
        decode<hm::wire::ExpertServer::BackwardParams>(*read->reader, limits, *buffers);
      }
    }
  } catch (const kj::Exception&) {  // a bad segment table: the RPC layer's refusal
  }
  return 0;
}
