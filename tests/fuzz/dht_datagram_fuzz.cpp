// DHT datagrams: the receive path of DhtProtocol::on_datagram without the
// socket. The first byte stands for what the node expects (how many items or
// keys its pending request had); the rest is the datagram, framed, read and
// decoded by the same wire_codec functions with the same options and the
// default ProtocolConfig limits. capnp's kj::Exception is the documented
// refusal here (the protocol counts it as malformed), like a false result.
#include "../../libcommon/src/dht/wire_codec.h"

#include "fuzz_support.h"
#include "hm/base/error.h"

namespace {

using hm::dht::codec::Framing;
namespace codec = hm::dht::codec;
namespace wire = hm::wire;

void decode(wire::DhtMessage::Reader message, size_t expected,
            const hm::dht::ProtocolConfig& config) {
  const auto source = hm::io::Endpoint::parse("127.0.0.1:31337", "fuzz source");
  if (!codec::read_sender(message, source)) return;
  std::vector<hm::dht::StoreItemView> items;
  std::vector<hm::dht::SubkeyView> entries;
  std::vector<hm::dht::NodeId> keys;
  hm::dht::StoreReply store;
  hm::dht::FindReply find;
  switch (message.which()) {
    case wire::DhtMessage::STORE_REQUEST:
      if (codec::read_store_request(message.getStoreRequest(), config.max_store_items, items,
                                    entries)) {
        HM_FUZZ_CHECK(items.size() <= config.max_store_items);
      }
      break;
    case wire::DhtMessage::FIND_REQUEST:
      if (codec::read_find_request(message.getFindRequest(), config.max_find_keys, keys)) {
        HM_FUZZ_CHECK(keys.size() <= config.max_find_keys);
      }
      break;
    case wire::DhtMessage::PING_RESPONSE:
      if (message.getPingResponse().hasYourAddress()) {
        codec::read_peer(message.getPingResponse().getYourAddress());
      }
      break;
    case wire::DhtMessage::STORE_RESPONSE:
      if (codec::read_store_response(message.getStoreResponse(), expected, store)) {
        HM_FUZZ_CHECK(store.accepted.size() == expected);
      }
      break;
    case wire::DhtMessage::FIND_RESPONSE:
      if (codec::read_find_response(message.getFindResponse(), expected, config.max_nearest,
                                    find)) {
        HM_FUZZ_CHECK(find.results.size() == expected);
        for (const auto& result : find.results) {
          HM_FUZZ_CHECK(result.nearest.size() <= config.max_nearest);
        }
      }
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const hm::dht::ProtocolConfig config;
  const size_t expected = data[0] % (config.max_store_items + 1);
  const auto datagram = std::as_bytes(std::span(data + 1, size - 1));
  if (datagram.size() > config.max_datagram) return 0;
  if (codec::check_framing(datagram) != Framing::kOk) return 0;
  // The socket's receive buffer is word-aligned; so is this copy.
  const auto words = hm::fuzz::aligned_words(data + 1, size - 1);
  try {
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(words.data(), words.size()),
                                         codec::datagram_reader_options());
    decode(reader.getRoot<wire::DhtMessage>(), expected, config);
  } catch (const kj::Exception&) {
  }
  return 0;
}
