#include "frame_limit_stream.h"

#include <fmt/format.h>
#include <kj/debug.h>

#include "hm/io/pending.h"

namespace hm::rpc {

std::optional<uint64_t> FrameSizeWatch::feed(const unsigned char* data, size_t size) {
  size_t i = 0;
  while (i < size) {
    if (phase_ == Phase::kBody) {
      uint64_t skip = std::min<uint64_t>(body_left_, size - i);
      body_left_ -= skip;
      i += skip;
      if (body_left_ == 0) phase_ = Phase::kCount;
      continue;
    }
    word_ |= uint32_t{data[i++]} << (8 * word_bytes_);
    if (++word_bytes_ < 4) continue;
    uint32_t value = word_;
    word_ = 0;
    word_bytes_ = 0;
    if (phase_ == Phase::kCount) {
      segments_ = value + 1;  // the header stores the count minus one
      sizes_read_ = 0;
      frame_words_ = 0;
      phase_ = Phase::kSizes;
      continue;
    }
    // kSizes: one uint32 per segment, then one of padding when the count is even.
    if (sizes_read_ < segments_) frame_words_ += value;
    ++sizes_read_;
    const uint32_t table_entries = segments_ + (segments_ % 2 == 0 ? 1 : 0);
    if (sizes_read_ < table_entries) continue;
    const uint64_t header_bytes = 4 * (uint64_t{table_entries} + 1);
    const uint64_t total = header_bytes + 8 * frame_words_;
    if (total > limit_) return total;
    body_left_ = 8 * frame_words_;
    phase_ = body_left_ == 0 ? Phase::kCount : Phase::kBody;
  }
  return std::nullopt;
}

kj::Promise<size_t> FrameLimitStream::tryRead(void* buffer, size_t min_bytes, size_t max_bytes) {
  if (failed_) return io::failure(*failed_);
  return inner().tryRead(buffer, min_bytes, max_bytes).then([this, buffer](size_t n) -> size_t {
    auto oversized = watch_.feed(static_cast<const unsigned char*>(buffer), n);
    if (oversized) {
      failed_ = fmt::format("a message of {} bytes exceeds the limit of {} MiB (--max-message-mb)",
                            *oversized, limit_bytes_ >> 20);
      refused_(*failed_);
      kj::throwFatalException(io::failure(*failed_));
    }
    return n;
  });
}

}  // namespace hm::rpc
