#include "hm/tensor/capnp_stream.h"

#include <algorithm>
#include <cstring>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <kj/io.h>

#include "hm/base/error.h"
#include "hm/tensor/wire_tensor.h"

namespace hm {
namespace {

class SinkStream : public kj::OutputStream {
 public:
  explicit SinkStream(const ByteSink& sink) : sink_(sink) {}
  void write(const void* buffer, size_t size) override {
    sink_({static_cast<const std::byte*>(buffer), size});
  }
  using kj::OutputStream::write;

 private:
  const ByteSink& sink_;
};

std::vector<HostTensor> decode_stream(std::span<const std::byte> bytes,
                                      std::shared_ptr<const void> owner,
                                      const TensorLimits& limits) {
  constexpr size_t kWord = sizeof(capnp::word);
  require(bytes.size() % kWord == 0,
          "capnp stream: {} bytes is not a whole number of 8-byte words (truncated?)",
          bytes.size());
  size_t word_count = bytes.size() / kWord;
  const capnp::word* words = nullptr;
  if (owner && reinterpret_cast<uintptr_t>(bytes.data()) % kWord == 0) {
    words = reinterpret_cast<const capnp::word*>(bytes.data());
  } else {
    // FlatArrayMessageReader needs word-aligned memory: one copy for all messages.
    std::shared_ptr<uint64_t[]> copy(new uint64_t[std::max<size_t>(word_count, 1)]);
    if (word_count > 0) std::memcpy(copy.get(), bytes.data(), bytes.size());
    words = reinterpret_cast<const capnp::word*>(copy.get());
    owner = std::move(copy);
  }

  std::vector<HostTensor> tensors;
  kj::ArrayPtr<const capnp::word> rest(words, word_count);
  while (rest.size() > 0) {
    size_t offset = static_cast<size_t>(rest.begin() - words) * kWord;
    try {
      capnp::ReaderOptions options;
      options.traversalLimitInWords = rest.size();
      capnp::FlatArrayMessageReader reader(rest, options);
      tensors.push_back(from_wire(reader.getRoot<wire::Tensor>(), owner, limits));
      rest = kj::ArrayPtr<const capnp::word>(reader.getEnd(), rest.end());
    } catch (const kj::Exception& e) {
      fail("capnp stream: message {} at byte {}: {}", tensors.size() + 1, offset,
           e.getDescription().cStr());
    } catch (const Error& e) {
      fail("capnp stream: message {} at byte {}: {}", tensors.size() + 1, offset, e.what());
    }
  }
  return tensors;
}

}  // namespace

void encode_capnp(const HostTensor& tensor, const ByteSink& sink) {
  // One first segment big enough for the whole message: no segment chaining.
  size_t words = tensor.nbytes() / 8 + tensor.shape.size() + 16;
  capnp::MallocMessageBuilder builder(static_cast<unsigned>(std::min<size_t>(words, 1u << 27)));
  to_wire(tensor, builder.initRoot<wire::Tensor>());
  SinkStream stream(sink);
  capnp::writeMessage(stream, builder);
}

std::string encode_capnp(const HostTensor& tensor) {
  std::string out;
  encode_capnp(tensor, append_to(out));
  return out;
}

std::vector<HostTensor> decode_capnp_stream(std::span<const std::byte> bytes,
                                            const TensorLimits& limits) {
  return decode_stream(bytes, nullptr, limits);
}

std::vector<HostTensor> decode_capnp_stream(std::span<const std::byte> bytes,
                                            std::shared_ptr<const void> owner,
                                            const TensorLimits& limits) {
  return decode_stream(bytes, std::move(owner), limits);
}

}  // namespace hm
