#include "pinned_write_stream.h"

#include <algorithm>

namespace hm::rpc {

void SendPins::pin(const void* data, std::shared_ptr<const void> owner) {
  pins_.push_back({data, std::move(owner)});
}

std::vector<std::shared_ptr<const void>> SendPins::take(
    kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  std::vector<std::shared_ptr<const void>> taken;
  if (pins_.empty()) return taken;
  for (const auto& piece : pieces) {
    auto it = std::find_if(pins_.begin(), pins_.end(),
                           [&](const Pin& pin) { return pin.data == piece.begin(); });
    if (it == pins_.end()) continue;
    taken.push_back(std::move(it->owner));
    pins_.erase(it);
  }
  return taken;
}

kj::Promise<void> PinnedWriteStream::write(const void* buffer, size_t size) {
  kj::ArrayPtr<const kj::byte> piece(static_cast<const kj::byte*>(buffer), size);
  auto held = pins_->take(kj::arrayPtr(&piece, 1));
  auto written = ForwardingStream::write(buffer, size);
  if (held.empty()) return written;
  return written.attach(kj::mv(held));
}

kj::Promise<void> PinnedWriteStream::write(
    kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  auto held = pins_->take(pieces);
  auto written = ForwardingStream::write(pieces);
  if (held.empty()) return written;
  return written.attach(kj::mv(held));
}

}  // namespace hm::rpc
