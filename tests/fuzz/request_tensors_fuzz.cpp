// Expert RPC request payloads as the server decodes them: the fuzz bytes
// (after a first byte choosing forward or backward) are one Cap'n Proto
// message whose root is the call's params, read with the server's
// ReaderOptions and decoded by decode_request_tensors with the default
// ServerLimits, exactly as ExpertServer::forward/backward do. The tensors
// are views into the message, so the production limits cost no memory here.
#include <capnp/serialize.h>

#include "fuzz_support.h"
#include "hm/base/error.h"
#include "hm/rpc/request_tensors.h"
#include "hm/wire/expert.capnp.h"

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
void decode(capnp::FlatArrayMessageReader& reader, const hm::rpc::ServerLimits& limits) {
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
    touch(hm::rpc::decode_request_tensors(inputs, limits, "inputs"));
    touch(hm::rpc::decode_request_tensors(grads, limits, "grad_outputs"));
  } catch (const hm::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const hm::rpc::ServerLimits limits;
  const auto words = hm::fuzz::aligned_words(data + 1, size - 1);
  capnp::ReaderOptions options;  // as ExpertServer's accept loop sets them
  options.traversalLimitInWords = limits.max_message_bytes / sizeof(capnp::word);
  try {
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(words.data(), words.size()), options);
    if (data[0] % 2 == 0) {
      decode<hm::wire::ExpertServer::ForwardParams>(reader, limits);
    } else {
      decode<hm::wire::ExpertServer::BackwardParams>(reader, limits);
    }
  } catch (const kj::Exception&) {  // a bad segment table: the RPC layer's refusal
  }
  return 0;
}
