// Private to hm_rpc. Receiving a tensor without copying it out of its
// message.
//
// SharedMessageStream reads a connection's Cap'n Proto messages the way
// capnp's own stream does (segment table, then the segments, with the same
// limits: under 512 segments, at most ReaderOptions::traversalLimitInWords),
// but into one heap buffer per message that a shared_ptr owns, and it lists
// each live buffer in the connection's IncomingBuffers. A tensor decoded
// from a message can then hold that shared_ptr as its owner and view the
// bytes in place: the buffer outlives the message (which the RPC system
// frees when it likes, even while a call is still running) for as long as
// any tensor views it, and is freed by whichever thread drops the last one.
// Writes go through capnp's AsyncIoMessageStream unchanged.
//
// Threads: the loop thread (the connection's), except that the buffers'
// owners may be released anywhere.
#pragma once

#include <capnp/serialize-async.h>

#include <map>
#include <memory>

namespace hm::rpc {

class IncomingBuffers {
 public:
  IncomingBuffers() = default;
  IncomingBuffers(const IncomingBuffers&) = delete;
  IncomingBuffers& operator=(const IncomingBuffers&) = delete;

  void add(const void* begin, size_t bytes, std::shared_ptr<const void> owner);
  void remove(const void* begin);

  // The owner of the live buffer that holds all of [data, data + bytes), or
  // nullptr when none does.
  std::shared_ptr<const void> owner_of(const void* data, size_t bytes) const;

  size_t size() const { return buffers_.size(); }

 private:
  struct Buffer {
    const std::byte* end;
    std::shared_ptr<const void> owner;
  };
  std::map<const std::byte*, Buffer> buffers_;  // by first byte
};

class SharedMessageStream final : public capnp::MessageStream {
 public:
  // `stream` must outlive this; `buffers` lists the messages read and not
  // yet destroyed.
  SharedMessageStream(kj::AsyncIoStream& stream, std::shared_ptr<IncomingBuffers> buffers)
      : stream_(stream), writer_(stream), buffers_(std::move(buffers)) {}

  kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> tryReadMessage(
      kj::ArrayPtr<kj::AutoCloseFd> fd_space, capnp::ReaderOptions options,
      kj::ArrayPtr<capnp::word> scratch_space) override;
  kj::Promise<void> writeMessage(kj::ArrayPtr<const int> fds,
                                 kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments)
      override {
    return writer_.writeMessage(fds, segments);
  }
  kj::Promise<void> writeMessages(
      kj::ArrayPtr<kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>> messages) override {
    return writer_.writeMessages(messages);
  }
  kj::Maybe<int> getSendBufferSize() override { return writer_.getSendBufferSize(); }
  kj::Promise<void> end() override { return writer_.end(); }

 private:
  kj::AsyncIoStream& stream_;
  capnp::AsyncIoMessageStream writer_;
  std::shared_ptr<IncomingBuffers> buffers_;
};

}  // namespace hm::rpc
