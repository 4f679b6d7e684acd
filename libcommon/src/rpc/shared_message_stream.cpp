#include "shared_message_stream.h"

#include <kj/debug.h>

#include <cstring>

namespace hm::rpc {
namespace {

using capnp::word;

// Cap'n Proto's own limit on segments per message.
constexpr uint32_t kMaxSegments = 512;

uint32_t little_endian_u32(const kj::byte* bytes) {
  return uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 | uint32_t{bytes[2]} << 16 |
         uint32_t{bytes[3]} << 24;
}

// A message whose segments live in one shared buffer, listed in `buffers`
// while the reader lives.
class SharedMessageReader final : public capnp::MessageReader {
 public:
  SharedMessageReader(capnp::ReaderOptions options, std::shared_ptr<IncomingBuffers> buffers,
                      std::shared_ptr<word[]> words, size_t total_words,
                      kj::Array<kj::ArrayPtr<const word>> segments)
      : MessageReader(options), buffers_(std::move(buffers)), words_(std::move(words)),
        segments_(kj::mv(segments)) {
    buffers_->add(words_.get(), total_words * sizeof(word), words_);
  }
  ~SharedMessageReader() noexcept(false) override { buffers_->remove(words_.get()); }

  kj::ArrayPtr<const word> getSegment(uint id) override {
    return id < segments_.size() ? segments_[id] : nullptr;
  }

 private:
  std::shared_ptr<IncomingBuffers> buffers_;
  std::shared_ptr<word[]> words_;
  kj::Array<kj::ArrayPtr<const word>> segments_;
};

// One message being read: its segment table, then its buffer.
struct PendingMessage {
  kj::byte first[8];                 // segment count - 1, size of segment 0
  kj::Array<kj::byte> more_sizes;    // the sizes of segments 1.. (and padding)
  uint32_t segment_count = 0;
  size_t total_words = 0;
  std::shared_ptr<word[]> words;
};

void require_read(size_t got, size_t wanted) {
  if (got < wanted) {
    kj::throwFatalException(KJ_EXCEPTION(DISCONNECTED, "premature EOF inside a message"));
  }
}

uint32_t segment_size(const PendingMessage& message, uint32_t i) {
  return i == 0 ? little_endian_u32(message.first + 4)
                : little_endian_u32(message.more_sizes.begin() + 4 * (i - 1));
}

}  // namespace

void IncomingBuffers::add(const void* begin, size_t bytes, std::shared_ptr<const void> owner) {
  const auto* first = static_cast<const std::byte*>(begin);
  buffers_[first] = {first + bytes, std::move(owner)};
}

void IncomingBuffers::remove(const void* begin) {
  buffers_.erase(static_cast<const std::byte*>(begin));
}

std::shared_ptr<const void> IncomingBuffers::owner_of(const void* data, size_t bytes) const {
  const auto* first = static_cast<const std::byte*>(data);
  auto after = buffers_.upper_bound(first);
  if (after == buffers_.begin()) return nullptr;
  const auto& [begin, buffer] = *std::prev(after);
  if (first < begin || first + bytes > buffer.end) return nullptr;
  return buffer.owner;
}

kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> SharedMessageStream::tryReadMessage(
    kj::ArrayPtr<kj::AutoCloseFd>, capnp::ReaderOptions options, kj::ArrayPtr<word>) {
  auto message = kj::heap<PendingMessage>();
  auto& pending = *message;
  return stream_.tryRead(pending.first, sizeof(pending.first), sizeof(pending.first))
      .then([this, &pending](size_t got) -> kj::Promise<bool> {
        if (got == 0) return false;  // the peer hung up between messages
        require_read(got, sizeof(pending.first));
        pending.segment_count = little_endian_u32(pending.first) + 1;
        KJ_REQUIRE(pending.segment_count != 0 && pending.segment_count < kMaxSegments,
                   "message has too many segments", pending.segment_count);
        pending.more_sizes = kj::heapArray<kj::byte>(4 * (pending.segment_count & ~1u));
        if (pending.more_sizes.size() == 0) return true;
        return stream_.tryRead(pending.more_sizes.begin(), pending.more_sizes.size(),
                               pending.more_sizes.size())
            .then([&pending](size_t got) {
              require_read(got, pending.more_sizes.size());
              return true;
            });
      })
      .then([this, &pending, options](bool more) -> kj::Promise<bool> {
        if (!more) return false;
        for (uint32_t i = 0; i < pending.segment_count; ++i) {
          pending.total_words += segment_size(pending, i);
        }
        KJ_REQUIRE(pending.total_words <= options.traversalLimitInWords,
                   "message is too large; see capnp::ReaderOptions", pending.total_words,
                   options.traversalLimitInWords);
        pending.words = std::shared_ptr<word[]>(new word[std::max<size_t>(pending.total_words, 1)]);
        const size_t bytes = pending.total_words * sizeof(word);
        if (bytes == 0) return true;
        return stream_.tryRead(pending.words.get(), bytes, bytes).then([bytes](size_t got) {
          require_read(got, bytes);
          return true;
        });
      })
      .then([this, &pending, options](bool more) -> kj::Maybe<capnp::MessageReaderAndFds> {
        if (!more) return nullptr;
        auto segments = kj::heapArray<kj::ArrayPtr<const word>>(pending.segment_count);
        const word* at = pending.words.get();
        for (uint32_t i = 0; i < pending.segment_count; ++i) {
          const uint32_t size = segment_size(pending, i);
          segments[i] = kj::arrayPtr(at, size);
          at += size;
        }
        capnp::MessageReaderAndFds read{
            kj::heap<SharedMessageReader>(options, buffers_, pending.words, pending.total_words,
                                          kj::mv(segments)),
            nullptr};
        return kj::mv(read);
      })
      .attach(kj::mv(message));
}

}  // namespace hm::rpc
