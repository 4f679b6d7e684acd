// Private to hm_rpc. FrameLimitStream: the server side of a connection,
// watching the Cap'n Proto frame headers (segment count, segment sizes) of
// the messages that pass through it. A frame larger than the limit fails the
// read with "a message of N bytes exceeds the limit of M MiB
// (--max-message-mb)" as soon as its header has arrived: the RPC system then
// closes the connection and sends that line to the peer in its Abort
// message, and the server logs it. (Cap'n Proto refuses such a frame on its
// own too, through ReaderOptions, but with a message that names no flag.)
//
// Threads: the loop thread, like the stream it wraps.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "forwarding_stream.h"

namespace hm::rpc {

// Follows a byte stream of Cap'n Proto frames; feed() reports the size of
// the first frame whose header declares more than `limit` bytes.
class FrameSizeWatch {
 public:
  explicit FrameSizeWatch(uint64_t limit) : limit_(limit) {}
  // The bytes of the stream, in order, in any chunks. Returns the declared
  // size of an oversized frame (header included) once its header is complete.
  std::optional<uint64_t> feed(const unsigned char* data, size_t size);

 private:
  enum class Phase { kCount, kSizes, kBody };
  uint64_t limit_;
  Phase phase_ = Phase::kCount;
  uint32_t word_ = 0;          // the little-endian uint32 being assembled
  int word_bytes_ = 0;         // of it so far
  uint32_t segments_ = 0;      // in this frame
  uint32_t sizes_read_ = 0;    // segment sizes read so far (plus padding)
  uint64_t frame_words_ = 0;   // declared segment words so far
  uint64_t body_left_ = 0;     // bytes of the body still to skip
};

class FrameLimitStream final : public ForwardingStream {
 public:
  // `refused(message)` runs once, with the one-line message, when a frame is
  // over `limit_bytes`; the read then fails with that message.
  FrameLimitStream(kj::Own<kj::AsyncIoStream> inner, uint64_t limit_bytes,
                   std::function<void(const std::string&)> refused)
      : ForwardingStream(kj::mv(inner)), watch_(limit_bytes), limit_bytes_(limit_bytes),
        refused_(std::move(refused)) {}

  kj::Promise<size_t> tryRead(void* buffer, size_t min_bytes, size_t max_bytes) override;

 private:
  FrameSizeWatch watch_;
  uint64_t limit_bytes_;
  std::function<void(const std::string&)> refused_;
  std::optional<std::string> failed_;
};

}  // namespace hm::rpc
