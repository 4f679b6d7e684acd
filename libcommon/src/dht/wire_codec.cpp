#include "wire_codec.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace hm::dht::codec {

namespace {

// Words in a scratch first segment: any datagram fits in one segment.
constexpr size_t kScratchWords = io::UdpSocket::kMaxDatagram / sizeof(capnp::word) + 64;

struct ScratchStack {
  std::vector<std::unique_ptr<capnp::word[]>> buffers;
  size_t depth = 0;
};
thread_local ScratchStack scratch_stack;

constexpr size_t kPeerSize = 24 + 24 + 16;  // struct + id + ip (v6)
constexpr size_t kEntryOverhead = 24;       // struct of a subkey entry
constexpr size_t kResultOverhead = 32 + 8;  // struct + nearest list tag

}  // namespace

size_t data_size(size_t n) { return (n + 7) / 8 * 8; }

size_t dictionary_size(const Dictionary& d) {
  size_t total = 8;
  for (const auto& [subkey, entry] : d) {
    total += kEntryOverhead + data_size(subkey.size()) + data_size(entry.value.size());
  }
  return total;
}

size_t value_size(const StoredValue& value) {
  return value.is_dictionary ? dictionary_size(value.subkeys) : data_size(value.value.size());
}

ScratchMessage::ScratchMessage() {
  ScratchStack& stack = scratch_stack;
  if (stack.buffers.size() <= stack.depth) {
    stack.buffers.emplace_back(new capnp::word[kScratchWords]());  // zeroed, as capnp requires
  }
  capnp::word* buffer = stack.buffers[stack.depth++].get();
  builder_.emplace(kj::arrayPtr(buffer, kScratchWords));
}

ScratchMessage::~ScratchMessage() {
  builder_.reset();  // zeroes what it used, ready for the next message
  --scratch_stack.depth;
}

bool Framed::frame(capnp::MessageBuilder& builder) {
  auto segments = builder.getSegmentsForOutput();
  if (segments.size() + 1 > kMaxParts) return false;
  size_t count = segments.size();
  table_[0] = static_cast<uint32_t>(count - 1);
  for (size_t i = 0; i < count; ++i) table_[i + 1] = static_cast<uint32_t>(segments[i].size());
  size_t table_words = (count + 2) / 2;  // (1 + count) uint32s, rounded up to words
  if (count % 2 == 0) table_[count + 1] = 0;
  parts_[0] = std::span<const std::byte>(reinterpret_cast<const std::byte*>(table_.data()),
                                         table_words * 8);
  bytes_ = table_words * 8;
  for (size_t i = 0; i < count; ++i) {
    parts_[i + 1] = std::span<const std::byte>(
        reinterpret_cast<const std::byte*>(segments[i].begin()), segments[i].size() * 8);
    bytes_ += segments[i].size() * 8;
  }
  count_ = count + 1;
  return true;
}

Framing check_framing(std::span<const std::byte> data) {
  if (data.size() < 8) return Framing::kTruncated;
  uint32_t first;
  std::memcpy(&first, data.data(), 4);
  size_t count = size_t{first} + 1;
  if (count > 64) return Framing::kMalformed;
  size_t table_bytes = (count + 2) / 2 * 8;
  if (data.size() < table_bytes) return Framing::kTruncated;
  size_t words = 0;
  for (size_t i = 0; i < count; ++i) {
    uint32_t size;
    std::memcpy(&size, data.data() + 4 + 4 * i, 4);
    words += size;
  }
  size_t expected = table_bytes + words * 8;
  if (data.size() < expected) return Framing::kTruncated;
  if (data.size() != expected) return Framing::kMalformed;
  return Framing::kOk;
}

std::optional<NodeId> read_id(capnp::Data::Reader data) {
  return NodeId::from_bytes(std::span<const uint8_t>(data.begin(), data.size()));
}

void write_peer(wire::DhtPeer::Builder out, const PeerInfo& peer) {
  out.setId(id_data(peer.id));
  auto ip = peer.address.ip_bytes();
  out.setIp(capnp::Data::Reader(ip.data(), ip.size()));
  out.setPort(peer.address.port());
}

std::optional<PeerInfo> read_peer(wire::DhtPeer::Reader in) {
  auto id = read_id(in.getId());
  if (!id) return std::nullopt;
  auto ip = in.getIp();
  io::Endpoint address =
      io::Endpoint::from_ip_bytes(std::span<const uint8_t>(ip.begin(), ip.size()), in.getPort());
  if (!address.valid() || address.port() == 0 || address.is_any()) return std::nullopt;
  return PeerInfo{*id, address};
}

void write_header(wire::DhtMessage::Builder out, uint64_t request_id, const NodeId& self,
                  uint16_t port, double dht_time) {
  out.setRequestId(request_id);
  out.setSenderId(id_data(self));
  out.setSenderPort(port);
  out.setDhtTime(dht_time);
}

std::optional<Sender> read_sender(wire::DhtMessage::Reader in, const io::Endpoint& source) {
  auto id = read_id(in.getSenderId());
  if (!id) return std::nullopt;
  return Sender{*id, source, in.getSenderPort(), in.getDhtTime()};
}

void write_store_request(wire::DhtMessage::Builder out, std::span<const StoreRecord> records) {
  auto items = out.initStoreRequest().initItems(static_cast<unsigned>(records.size()));
  for (size_t i = 0; i < records.size(); ++i) {
    const StoreRecord& r = records[i];
    auto item = items[static_cast<unsigned>(i)];
    item.setKey(id_data(r.key));
    item.setExpiration(r.expiration);
    item.setInCache(r.in_cache);
    switch (r.kind) {
      case StoreRecord::Kind::kRegular:
        item.setRegular(bytes_data(r.value));
        break;
      case StoreRecord::Kind::kSubkey: {
        auto entry = item.initSubkey();
        entry.setSubkey(bytes_data(r.subkey));
        entry.setValue(bytes_data(r.value));
        entry.setExpiration(r.expiration);
        break;
      }
      case StoreRecord::Kind::kDictionary: {
        auto entries = item.initDictionary(static_cast<unsigned>(r.dictionary.size()));
        unsigned j = 0;
        for (const auto& [subkey, value] : r.dictionary) {
          entries[j].setSubkey(bytes_data(subkey));
          entries[j].setValue(bytes_data(value.value));
          entries[j].setExpiration(value.expiration);
          ++j;
        }
        break;
      }
    }
  }
}

bool read_store_request(wire::DhtStoreRequest::Reader in, size_t max_items,
                        std::vector<StoreItemView>& items, std::vector<SubkeyView>& entries) {
  items.clear();
  entries.clear();
  auto list = in.getItems();
  if (list.size() == 0 || list.size() > max_items) return false;
  // Reserve every dictionary entry first, so that spans into `entries` stay valid.
  size_t total_entries = 0;
  for (auto item : list) {
    if (item.isDictionary()) total_entries += item.getDictionary().size();
  }
  entries.reserve(total_entries);
  for (auto item : list) {
    StoreItemView view;
    auto key = read_id(item.getKey());
    if (!key) return false;
    view.key = *key;
    view.in_cache = item.getInCache();
    view.expiration = item.getExpiration();
    switch (item.which()) {
      case wire::DhtStoreItem::REGULAR:
        view.kind = StoreRecord::Kind::kRegular;
        view.value = codec::view(item.getRegular());
        break;
      case wire::DhtStoreItem::SUBKEY: {
        auto entry = item.getSubkey();
        view.kind = StoreRecord::Kind::kSubkey;
        view.subkey = {codec::view(entry.getSubkey()), codec::view(entry.getValue()),
                       entry.getExpiration()};
        view.expiration = entry.getExpiration();
        break;
      }
      case wire::DhtStoreItem::DICTIONARY: {
        view.kind = StoreRecord::Kind::kDictionary;
        size_t first = entries.size();
        for (auto entry : item.getDictionary()) {
          entries.push_back({codec::view(entry.getSubkey()), codec::view(entry.getValue()),
                             entry.getExpiration()});
        }
        view.entries = std::span<const SubkeyView>(entries.data() + first, entries.size() - first);
        break;
      }
      default:
        return false;
    }
    items.push_back(view);
  }
  return true;
}

void write_find_request(wire::DhtMessage::Builder out, std::span<const NodeId> keys) {
  auto list = out.initFindRequest().initKeys(static_cast<unsigned>(keys.size()));
  for (size_t i = 0; i < keys.size(); ++i) list.set(static_cast<unsigned>(i), id_data(keys[i]));
}

bool read_find_request(wire::DhtFindRequest::Reader in, size_t max_keys,
                       std::vector<NodeId>& keys) {
  keys.clear();
  auto list = in.getKeys();
  if (list.size() == 0 || list.size() > max_keys) return false;
  for (auto data : list) {
    auto id = read_id(data);
    if (!id) return false;
    keys.push_back(*id);
  }
  return true;
}

namespace {

// The distinct peers of a find response and, for every entry of
// answers.peers, its index among them. An open-addressing hash set with
// generation stamps, reused per thread: no allocation or clearing once warm.
struct PeerTable {
  std::vector<uint32_t> unique;  // positions in answers.peers of the first of each id
  std::vector<uint16_t> index;   // per answers.peers entry
  std::vector<uint32_t> slots;   // unique index + 1, valid when stamp matches
  std::vector<uint32_t> stamps;
  uint32_t generation = 0;
};
thread_local PeerTable peer_table;

const PeerTable& build_peer_table(const FindAnswers& answers) {
  PeerTable& t = peer_table;
  t.unique.clear();
  t.index.assign(answers.peers.size(), 0);
  size_t capacity = 64;
  while (capacity < 2 * answers.peers.size()) capacity *= 2;
  if (t.slots.size() < capacity) {
    t.slots.assign(capacity, 0);
    t.stamps.assign(capacity, 0);
  }
  capacity = t.slots.size();
  if (++t.generation == 0) {  // wrapped: forget every stamp
    std::fill(t.stamps.begin(), t.stamps.end(), 0);
    t.generation = 1;
  }
  for (const auto& entry : answers.entries) {
    for (size_t i = entry.first; i < entry.first + entry.count; ++i) {
      const NodeId& id = answers.peers[i].id;
      size_t slot = NodeIdHash()(id) & (capacity - 1);
      for (;;) {
        if (t.stamps[slot] != t.generation) {  // empty: a new peer
          t.stamps[slot] = t.generation;
          t.unique.push_back(static_cast<uint32_t>(i));
          t.slots[slot] = static_cast<uint32_t>(t.unique.size());
          t.index[i] = static_cast<uint16_t>(t.unique.size() - 1);
          break;
        }
        uint32_t known = t.slots[slot] - 1;
        if (answers.peers[t.unique[known]].id == id) {
          t.index[i] = static_cast<uint16_t>(known);
          break;
        }
        slot = (slot + 1) & (capacity - 1);
      }
    }
  }
  return t;
}

}  // namespace

size_t find_response_base_size(const FindAnswers& answers) {
  size_t refs = 0;
  for (const auto& entry : answers.entries) refs += entry.count;
  const PeerTable& table = build_peer_table(answers);
  return 128 + table.unique.size() * kPeerSize + answers.entries.size() * kResultOverhead +
         data_size(refs * 2) + answers.entries.size() * 8;
}

void write_find_response(wire::DhtMessage::Builder out, const FindAnswers& answers,
                         size_t value_budget) {
  const PeerTable& table = build_peer_table(answers);
  auto response = out.initFindResponse();
  auto peers = response.initPeers(static_cast<unsigned>(table.unique.size()));
  for (size_t i = 0; i < table.unique.size(); ++i) {
    write_peer(peers[static_cast<unsigned>(i)], answers.peers[table.unique[i]]);
  }
  auto results = response.initResults(static_cast<unsigned>(answers.entries.size()));
  for (size_t i = 0; i < answers.entries.size(); ++i) {
    const auto& entry = answers.entries[i];
    auto result = results[static_cast<unsigned>(i)];
    auto nearest = result.initNearest(static_cast<unsigned>(entry.count));
    for (size_t j = 0; j < entry.count; ++j) {
      nearest.set(static_cast<unsigned>(j), table.index[entry.first + j]);
    }
    const StoredValue* value = entry.value;
    if (value == nullptr) {
      result.setNotFound();
      result.setExpiration(0);
      continue;
    }
    result.setExpiration(value->expiration);
    size_t size = value_size(*value);
    if (size > value_budget) {
      result.setOmitted();
      continue;
    }
    value_budget -= size;
    if (!value->is_dictionary) {
      result.setRegular(bytes_data(value->value));
      continue;
    }
    auto list = result.initDictionary(static_cast<unsigned>(value->subkeys.size()));
    unsigned j = 0;
    for (const auto& [subkey, sub] : value->subkeys) {
      list[j].setSubkey(bytes_data(subkey));
      list[j].setValue(bytes_data(sub.value));
      list[j].setExpiration(sub.expiration);
      ++j;
    }
  }
}

bool read_store_response(wire::DhtStoreResponse::Reader in, size_t items, StoreReply& out) {
  auto accepted = in.getAccepted();
  if (accepted.size() != items) return false;
  out.accepted.resize(items);
  for (unsigned i = 0; i < items; ++i) out.accepted[i] = accepted[i];
  return true;
}

bool read_find_response(wire::DhtFindResponse::Reader in, size_t keys, size_t max_nearest,
                        FindReply& out) {
  auto results = in.getResults();
  if (results.size() != keys) return false;
  auto peer_list = in.getPeers();
  if (peer_list.size() > keys * max_nearest) return false;
  std::vector<PeerInfo> peers;
  peers.reserve(peer_list.size());
  for (auto peer : peer_list) {
    auto info = read_peer(peer);
    if (!info) return false;
    peers.push_back(*info);
  }
  out.results.resize(keys);
  for (unsigned i = 0; i < keys; ++i) {
    auto result = results[i];
    FindResult& r = out.results[i];
    for (uint16_t index : result.getNearest()) {
      if (r.nearest.size() >= max_nearest) break;
      if (index >= peers.size()) return false;
      r.nearest.push_back(peers[index]);
    }
    r.value.expiration = result.getExpiration();
    switch (result.which()) {
      case wire::DhtFindResult::NOT_FOUND:
        r.kind = FindResult::Kind::kNotFound;
        break;
      case wire::DhtFindResult::REGULAR:
        r.kind = FindResult::Kind::kFound;
        r.value.value = std::string(view(result.getRegular()));
        break;
      case wire::DhtFindResult::DICTIONARY: {
        r.kind = FindResult::Kind::kFound;
        r.value.is_dictionary = true;
        for (auto entry : result.getDictionary()) {
          r.value.subkeys[std::string(view(entry.getSubkey()))] =
              SubkeyValue{std::string(view(entry.getValue())), entry.getExpiration()};
        }
        break;
      }
      case wire::DhtFindResult::OMITTED:
        r.kind = FindResult::Kind::kOmitted;
        break;
      default:
        return false;
    }
  }
  return true;
}

}  // namespace hm::dht::codec

namespace hm::dht {

StoreRecord StoreRecord::from_value(const NodeId& key, const StoredValue& value, bool in_cache) {
  StoreRecord r;
  r.key = key;
  r.in_cache = in_cache;
  r.expiration = value.expiration;
  if (value.is_dictionary) {
    r.kind = Kind::kDictionary;
    r.dictionary = value.subkeys;
  } else {
    r.kind = Kind::kRegular;
    r.value = value.value;
  }
  return r;
}

size_t StoreRecord::wire_size() const {
  size_t total = 32 + 8 + 24;  // item struct + list element tag + key
  switch (kind) {
    case Kind::kRegular:
      return total + codec::data_size(value.size());
    case Kind::kSubkey:
      return total + 24 + codec::data_size(subkey.size()) +
             codec::data_size(value.size());
    case Kind::kDictionary:
      return total + codec::dictionary_size(dictionary);
  }
  return total;
}

}  // namespace hm::dht
