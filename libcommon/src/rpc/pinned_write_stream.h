// Private to hm_rpc. Sending a tensor without copying it into the message.
//
// A large wire tensor is built with capnp's referenceExternalData: the
// message's segment is the tensor's own memory, and the write hands it to
// the kernel straight from there (no memcpy into the message, no zeroed
// segment to copy into). The memory must then outlive the write, which
// happens later, on another turn of the loop. SendPins holds each such
// buffer (the tensor's `owner`) from the moment it is referenced; a
// PinnedWriteStream, around the connection's stream, moves the pins of the
// pieces it is given onto that write's promise, so each buffer is released
// when the write that carries it is done or cancelled. A pin whose message
// is never written (the connection broke first) is released with the
// SendPins, after the connection's RPC system and stream are gone.
//
// Threads: the loop thread only (the connection's).
#pragma once

#include <memory>
#include <vector>

#include "forwarding_stream.h"

namespace hm::rpc {

class SendPins {
 public:
  SendPins() = default;
  SendPins(const SendPins&) = delete;
  SendPins& operator=(const SendPins&) = delete;

  // Holds `owner` until a write carries a piece that starts at `data`.
  void pin(const void* data, std::shared_ptr<const void> owner);

  // The pins of `pieces`, taken out of the set: one per piece that starts
  // at a pinned address (the same buffer pinned twice, for two messages,
  // is taken once per message that carries it).
  std::vector<std::shared_ptr<const void>> take(
      kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces);

  // Pins still waiting for their write.
  size_t size() const { return pins_.size(); }

 private:
  struct Pin {
    const void* data;
    std::shared_ptr<const void> owner;
  };
  std::vector<Pin> pins_;  // in the order they were pinned
};

class PinnedWriteStream final : public ForwardingStream {
 public:
  PinnedWriteStream(kj::Own<kj::AsyncIoStream> inner, std::shared_ptr<SendPins> pins)
      : ForwardingStream(kj::mv(inner)), pins_(std::move(pins)) {}

  kj::Promise<void> write(const void* buffer, size_t size) override;
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override;

 private:
  std::shared_ptr<SendPins> pins_;
};

}  // namespace hm::rpc
