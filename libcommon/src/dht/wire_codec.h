// Private to hm_dht: between schemas/dht.capnp and the plain structs of
// protocol.h. Every reader here validates as it goes and returns false (or
// nullopt) on anything out of shape; capnp itself throws kj::Exception for
// broken pointers, which the caller counts as malformed.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "hm/dht/protocol.h"
#include "hm/wire/dht.capnp.h"

namespace hm::dht::codec {

// A message builder whose first segment (large enough for any datagram) is
// reused: taken from a per-thread stack, so builders may nest.
class ScratchMessage {
 public:
  ScratchMessage();
  ~ScratchMessage();
  ScratchMessage(const ScratchMessage&) = delete;
  ScratchMessage& operator=(const ScratchMessage&) = delete;
  capnp::MessageBuilder& builder() { return *builder_; }
  wire::DhtMessage::Builder root() { return builder_->getRoot<wire::DhtMessage>(); }

 private:
  std::optional<capnp::MallocMessageBuilder> builder_;
};

// A built message as datagram parts (segment table, then segments): no copy.
class Framed {
 public:
  // False when the message has more segments than fit (never for datagrams).
  bool frame(capnp::MessageBuilder& builder);
  std::span<const std::span<const std::byte>> parts() const { return {parts_.data(), count_}; }
  size_t bytes() const { return bytes_; }

 private:
  static constexpr size_t kMaxParts = 8;
  std::array<uint32_t, 2 * kMaxParts> table_{};
  std::array<std::span<const std::byte>, kMaxParts> parts_{};
  size_t count_ = 0;
  size_t bytes_ = 0;
};

// How every received datagram is read (also by tests/fuzz/dht_datagram_fuzz).
inline capnp::ReaderOptions datagram_reader_options() {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 2 * (io::UdpSocket::kMaxDatagram / 8 + 64);
  options.nestingLimit = 16;
  return options;
}

enum class Framing { kOk, kTruncated, kMalformed };
// Checks the segment table against the datagram's length.
Framing check_framing(std::span<const std::byte> data);

std::optional<NodeId> read_id(capnp::Data::Reader data);
inline capnp::Data::Reader id_data(const NodeId& id) {
  return capnp::Data::Reader(id.bytes().data(), NodeId::kBytes);
}
inline capnp::Data::Reader bytes_data(std::string_view s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}
inline std::string_view view(capnp::Data::Reader data) {
  return {reinterpret_cast<const char*>(data.begin()), data.size()};
}

void write_peer(wire::DhtPeer::Builder out, const PeerInfo& peer);
std::optional<PeerInfo> read_peer(wire::DhtPeer::Reader in);

// Header fields every message carries.
void write_header(wire::DhtMessage::Builder out, uint64_t request_id, const NodeId& self,
                  uint16_t port, double dht_time);
std::optional<Sender> read_sender(wire::DhtMessage::Reader in, const io::Endpoint& source);

void write_store_request(wire::DhtMessage::Builder out, std::span<const StoreRecord> records);
// Decodes into `items` and `entries` (reused); false when out of shape.
bool read_store_request(wire::DhtStoreRequest::Reader in, size_t max_items,
                        std::vector<StoreItemView>& items, std::vector<SubkeyView>& entries);

void write_find_request(wire::DhtMessage::Builder out, std::span<const NodeId> keys);
bool read_find_request(wire::DhtFindRequest::Reader in, size_t max_keys, std::vector<NodeId>& keys);

// Writes the answers; values beyond `value_budget` bytes are sent as omitted.
void write_find_response(wire::DhtMessage::Builder out, const FindAnswers& answers,
                         size_t value_budget);
// Estimated wire bytes of the answers without their values.
size_t find_response_base_size(const FindAnswers& answers);

bool read_store_response(wire::DhtStoreResponse::Reader in, size_t items, StoreReply& out);
bool read_find_response(wire::DhtFindResponse::Reader in, size_t keys, size_t max_nearest,
                        FindReply& out);

// Wire-size estimates (upper bounds) used to pack datagrams.
size_t data_size(size_t bytes);
size_t dictionary_size(const Dictionary& dictionary);
size_t value_size(const StoredValue& value);

}  // namespace hm::dht::codec
