#include "hm/dht/protocol.h"

#include <gtest/gtest.h>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <memory>
#include <random>

#include "hm/wire/dht.capnp.h"
#include "loop_fixture.h"

namespace hm::dht {
namespace {

const io::Endpoint kLocal = io::Endpoint::parse("127.0.0.1:0", "test");

// A node stand-in: storage, a fixed list of peers to hand out, and a log.
class FakeNode : public RequestHandler {
 public:
  void handle_store(const Sender&, std::span<const StoreItemView> items,
                    std::vector<uint8_t>& accepted) override {
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& item = items[i];
      Storage& target = item.in_cache ? cache : storage;
      switch (item.kind) {
        case StoreRecord::Kind::kRegular:
          accepted[i] = target.store(item.key, item.value, item.expiration, now);
          break;
        case StoreRecord::Kind::kSubkey:
          accepted[i] = target.store_subkey(item.key, item.subkey.subkey, item.subkey.value,
                                            item.subkey.expiration, now);
          break;
        case StoreRecord::Kind::kDictionary: {
          bool all = !item.entries.empty();
          for (const auto& e : item.entries) {
            all = target.store_subkey(item.key, e.subkey, e.value, e.expiration, now) && all;
          }
          accepted[i] = all;
          break;
        }
      }
    }
  }
  void handle_find(const Sender&, std::span<const NodeId> keys, FindAnswers& answers) override {
    for (const auto& key : keys) {
      FindAnswers::Entry entry;
      entry.value = storage.get(key, now);
      entry.first = answers.peers.size();
      answers.peers.insert(answers.peers.end(), peers.begin(), peers.end());
      entry.count = peers.size();
      answers.entries.push_back(entry);
    }
  }
  void on_peer_alive(const Sender& sender) override { alive.push_back(sender); }

  double now = 1000;
  Storage storage;
  Storage cache;
  std::vector<PeerInfo> peers;
  std::vector<Sender> alive;
};

ProtocolConfig fast_config() {
  ProtocolConfig config;
  config.request_timeout = 0.05;
  config.retries = 1;
  config.clock = [] { return 1000.0; };
  return config;
}

class ProtocolTest : public testing::LoopTest {
 protected:
  std::unique_ptr<DhtProtocol> make(FakeNode& node, ProtocolConfig config = fast_config()) {
    return std::make_unique<DhtProtocol>(loop(), NodeId::random(), kLocal, config, node);
  }
};

TEST_F(ProtocolTest, PingCarriesIdsBothWays) {
  FakeNode a_node, b_node;
  auto a = make(a_node);
  auto b = make(b_node);
  std::optional<PingReply> reply;
  bool called = false;
  a->call_ping(b->local_endpoint(), [&](const PingReply* r) {
    called = true;
    if (r) reply = *r;
  });
  ASSERT_TRUE(run_until([&] { return called; }));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->sender.id, b->self());
  EXPECT_EQ(reply->sender.port, b->local_endpoint().port());
  EXPECT_EQ(reply->your_address, a->local_endpoint());
  EXPECT_GT(reply->rtt_seconds, 0);  // a real round trip, within the wait above
  EXPECT_LT(reply->rtt_seconds, 5);
  ASSERT_EQ(b_node.alive.size(), 1u);
  EXPECT_EQ(b_node.alive[0].id, a->self());
  EXPECT_EQ(b_node.alive[0].listen_address(), a->local_endpoint());
  ASSERT_EQ(a_node.alive.size(), 1u);
  EXPECT_EQ(a_node.alive[0].id, b->self());
  EXPECT_EQ(a->pending(), 0u);
}

TEST_F(ProtocolTest, StoreThenFindBatched) {
  FakeNode client_node, server_node;
  auto client = make(client_node);
  auto server = make(server_node);
  server_node.peers = {{NodeId::from_key("p1"), io::Endpoint::parse("127.0.0.1:4001", "t")},
                       {NodeId::from_key("p2"), io::Endpoint::parse("[::1]:4002", "t")}};
  std::vector<StoreRecord> records(3);
  records[0].key = NodeId::from_key("plain");
  records[0].value = "v1";
  records[0].expiration = 2000;
  records[1].key = NodeId::from_key("dict");
  records[1].kind = StoreRecord::Kind::kSubkey;
  records[1].subkey = "sub";
  records[1].value = "v2";
  records[1].expiration = 2000;
  records[2].key = NodeId::from_key("plain");
  records[2].value = "older";
  records[2].expiration = 1500;  // not newer: refused
  std::optional<std::vector<bool>> accepted;
  client->call_store(server->local_endpoint(), records, [&](const StoreReply* r) {
    accepted = r ? r->accepted : std::vector<bool>{};
  });
  ASSERT_TRUE(run_until([&] { return accepted.has_value(); }));
  EXPECT_EQ(*accepted, (std::vector<bool>{true, true, false}));

  std::vector<NodeId> keys = {NodeId::from_key("plain"), NodeId::from_key("dict"),
                              NodeId::from_key("missing")};
  std::optional<FindReply> found;
  bool called = false;
  client->call_find(server->local_endpoint(), keys, [&](const FindReply* r) {
    called = true;
    if (r) found = *r;
  });
  ASSERT_TRUE(run_until([&] { return called; }));
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->results.size(), 3u);
  EXPECT_EQ(found->results[0].kind, FindResult::Kind::kFound);
  EXPECT_EQ(found->results[0].value.value, "v1");
  EXPECT_EQ(found->results[0].value.expiration, 2000);
  EXPECT_EQ(found->results[1].kind, FindResult::Kind::kFound);
  ASSERT_TRUE(found->results[1].value.is_dictionary);
  EXPECT_EQ(found->results[1].value.subkeys.at("sub").value, "v2");
  EXPECT_EQ(found->results[2].kind, FindResult::Kind::kNotFound);
  for (const auto& result : found->results) {
    ASSERT_EQ(result.nearest.size(), 2u);
    EXPECT_EQ(result.nearest[0].id, server_node.peers[0].id);
    EXPECT_EQ(result.nearest[1].address, server_node.peers[1].address);
  }
}

TEST_F(ProtocolTest, ValuesThatDoNotFitAreOmitted) {
  FakeNode client_node, server_node;
  auto client = make(client_node);
  ProtocolConfig small = fast_config();
  small.max_datagram = 3000;
  auto server = make(server_node, small);
  std::vector<NodeId> keys;
  for (int i = 0; i < 4; ++i) {
    keys.push_back(NodeId::from_key("big" + std::to_string(i)));
    ASSERT_TRUE(server_node.storage.store(keys.back(), std::string(1000, 'x'), 2000, 1000));
  }
  std::optional<FindReply> found;
  client->call_find(server->local_endpoint(), keys, [&](const FindReply* r) {
    if (r) found = *r;
  });
  ASSERT_TRUE(run_until([&] { return found.has_value(); }));
  size_t with_value = 0, omitted = 0;
  for (const auto& result : found->results) {
    with_value += result.kind == FindResult::Kind::kFound;
    omitted += result.kind == FindResult::Kind::kOmitted;
    if (result.kind == FindResult::Kind::kOmitted) {
      EXPECT_EQ(result.value.expiration, 2000);
    }
  }
  EXPECT_GE(with_value, 1u);
  EXPECT_GE(omitted, 1u);
  EXPECT_EQ(with_value + omitted, 4u);
}

TEST_F(ProtocolTest, SilentPeerTimesOutAfterRetries) {
  FakeNode node;
  auto a = make(node);
  io::UdpSocket silent(loop());  // bound, never answers
  silent.bind(kLocal);
  int received = 0;
  silent.start([&](std::span<const std::byte>, const io::Endpoint&, bool) { ++received; });
  int calls = 0;
  bool failed = false;
  a->call_ping(silent.local_endpoint(), [&](const PingReply* r) {
    ++calls;
    failed = r == nullptr;
  });
  ASSERT_TRUE(run_until([&] { return calls > 0; }));
  run_for(0.1);  // no second call
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(failed);
  EXPECT_EQ(received, 2);  // first attempt + 1 retry
  EXPECT_EQ(a->counters().resends, 1u);
  EXPECT_EQ(a->counters().timeouts, 1u);
  EXPECT_EQ(a->pending(), 0u);
}

// Builds a ping response to `request_id` from a fake peer.
std::vector<std::byte> fake_ping_response(uint64_t request_id, const NodeId& from, uint16_t port) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::DhtMessage>();
  root.setRequestId(request_id);
  root.setSenderId(capnp::Data::Reader(from.bytes().data(), 20));
  root.setSenderPort(port);
  root.initPingResponse();
  auto words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return {reinterpret_cast<const std::byte*>(bytes.begin()),
          reinterpret_cast<const std::byte*>(bytes.end())};
}

uint64_t request_id_of(std::span<const std::byte> data) {
  kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word*>(data.data()),
                                        data.size() / 8);
  capnp::FlatArrayMessageReader reader(words);
  return reader.getRoot<wire::DhtMessage>().getRequestId();
}

TEST_F(ProtocolTest, AnswersCountOnlyFromTheAddressAsked) {
  FakeNode node;
  auto a = make(node);
  io::UdpSocket asked(loop()), impostor(loop());
  asked.bind(kLocal);
  impostor.bind(kLocal);
  NodeId fake_id = NodeId::from_key("fake");
  std::optional<uint64_t> request_id;
  io::Endpoint requester;
  asked.start([&](std::span<const std::byte> data, const io::Endpoint& from, bool) {
    request_id = request_id_of(data);
    requester = from;
  });
  std::optional<PingReply> reply;
  bool called = false;
  a->call_ping(asked.local_endpoint(), [&](const PingReply* r) {
    called = true;
    if (r) reply = *r;
  });
  ASSERT_TRUE(run_until([&] { return request_id.has_value(); }));
  auto forged = fake_ping_response(*request_id, fake_id, impostor.local_endpoint().port());
  impostor.send(requester, forged);
  auto wrong_id = fake_ping_response(*request_id + 1, fake_id, asked.local_endpoint().port());
  asked.send(requester, wrong_id);
  ASSERT_TRUE(run_until([&] {
    return a->counters().wrong_address == 1 && a->counters().unsolicited == 1;
  }));
  EXPECT_FALSE(called);
  auto genuine = fake_ping_response(*request_id, fake_id, asked.local_endpoint().port());
  asked.send(requester, genuine);
  ASSERT_TRUE(run_until([&] { return called; }));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->sender.id, fake_id);
}

TEST_F(ProtocolTest, GarbageIsDroppedAndCountedAndTheNodeKeepsAnswering) {
  FakeNode victim_node, attacker_node;
  auto victim = make(victim_node);
  auto attacker = make(attacker_node);
  std::mt19937_64 rng(1234);
  auto random_bytes = [&](size_t n) {
    std::vector<std::byte> bytes(n);
    for (auto& b : bytes) b = static_cast<std::byte>(rng());
    return bytes;
  };
  // A valid store request to mutate.
  std::vector<std::byte> valid;
  {
    capnp::MallocMessageBuilder builder;
    auto root = builder.initRoot<wire::DhtMessage>();
    root.setRequestId(77);
    NodeId id = attacker->self();
    root.setSenderId(capnp::Data::Reader(id.bytes().data(), 20));
    root.setSenderPort(attacker->local_endpoint().port());
    auto items = root.initStoreRequest().initItems(2);
    NodeId key = NodeId::from_key("k");
    items[0].setKey(capnp::Data::Reader(key.bytes().data(), 20));
    items[0].setExpiration(2000);
    items[0].setRegular(capnp::Data::Reader(reinterpret_cast<const kj::byte*>("value"), 5));
    auto dict = items[1].initDictionary(2);
    items[1].setKey(capnp::Data::Reader(key.bytes().data(), 20));
    dict[0].setSubkey(capnp::Data::Reader(reinterpret_cast<const kj::byte*>("s"), 1));
    auto words = capnp::messageToFlatArray(builder);
    auto bytes = words.asBytes();
    valid.assign(reinterpret_cast<const std::byte*>(bytes.begin()),
                 reinterpret_cast<const std::byte*>(bytes.end()));
  }
  size_t sent = 0;
  io::Endpoint target = victim->local_endpoint();
  // Fire in small volleys so that the kernel's receive buffer never overflows.
  auto fire = [&](std::span<const std::byte> bytes) {
    attacker->send_raw(target, bytes);
    if (++sent % 32 == 0) {
      ASSERT_TRUE(run_until([&] { return victim->counters().datagrams >= sent; }));
    }
  };
  for (int i = 0; i < 300; ++i) fire(random_bytes(1 + rng() % 2000));
  for (size_t cut = 0; cut < valid.size(); cut += 3) {  // truncated
    fire(std::span<const std::byte>(valid.data(), cut));
  }
  for (int i = 0; i < 500; ++i) {  // bit flips
    auto mutated = valid;
    for (int flips = 0; flips < 3; ++flips) {
      mutated[rng() % mutated.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
    }
    fire(mutated);
  }
  // A segment table that claims a huge segment.
  std::vector<std::byte> huge(16);
  huge[4] = std::byte{0xff};
  huge[5] = std::byte{0xff};
  fire(huge);
  ASSERT_TRUE(run_until([&] { return victim->counters().datagrams >= sent; }, 20));
  const auto& c = victim->counters();
  EXPECT_GT(c.truncated, 0u);
  EXPECT_GT(c.malformed, 0u);
  EXPECT_EQ(c.datagrams, sent);
  EXPECT_EQ(c.dropped() + c.requests_served, sent);

  bool answered = false;
  attacker->call_ping(target, [&](const PingReply* r) { answered = r != nullptr; });
  ASSERT_TRUE(run_until([&] { return answered; }));
}

TEST_F(ProtocolTest, OversizedDatagramsAreDropped) {
  FakeNode victim_node, attacker_node;
  ProtocolConfig small = fast_config();
  small.max_datagram = 512;
  auto victim = make(victim_node, small);
  auto attacker = make(attacker_node);
  std::vector<std::byte> big(4096, std::byte{0});
  attacker->send_raw(victim->local_endpoint(), big);
  ASSERT_TRUE(run_until([&] { return victim->counters().oversized == 1; }));
}

TEST_F(ProtocolTest, RequestsPerPeerAreRateLimited) {
  FakeNode server_node, client_node;
  ProtocolConfig limited = fast_config();
  limited.requests_per_second = 1;
  limited.request_burst = 5;
  auto server = make(server_node, limited);
  ProtocolConfig no_retry = fast_config();
  no_retry.retries = 0;
  no_retry.request_timeout = 0.3;
  auto client = make(client_node, no_retry);
  int answered = 0, failed = 0;
  for (int i = 0; i < 20; ++i) {
    client->call_ping(server->local_endpoint(), [&](const PingReply* r) {
      (r ? answered : failed)++;
    });
  }
  ASSERT_TRUE(run_until([&] { return answered + failed == 20; }));
  EXPECT_GE(answered, 5);
  EXPECT_LT(answered, 20);
  EXPECT_EQ(server->counters().rate_limited, static_cast<uint64_t>(failed));
}

TEST_F(ProtocolTest, ClientModeSendsPortZero) {
  FakeNode server_node, client_node;
  auto server = make(server_node);
  ProtocolConfig client_config = fast_config();
  client_config.client_mode = true;
  auto client = make(client_node, client_config);
  bool answered = false;
  client->call_ping(server->local_endpoint(), [&](const PingReply* r) { answered = r != nullptr; });
  ASSERT_TRUE(run_until([&] { return answered; }));
  ASSERT_EQ(server_node.alive.size(), 1u);
  EXPECT_EQ(server_node.alive[0].port, 0);
  EXPECT_FALSE(server_node.alive[0].listen_address().valid());
}

TEST_F(ProtocolTest, TooLargeRequestFailsLaterNotNow) {
  FakeNode node, other_node;
  ProtocolConfig small = fast_config();
  small.max_datagram = 256;
  auto a = make(node, small);
  auto b = make(other_node);
  std::vector<StoreRecord> records(1);
  records[0].key = NodeId::from_key("k");
  records[0].value = std::string(1000, 'x');
  records[0].expiration = 2000;
  bool called = false, failed = false;
  a->call_store(b->local_endpoint(), records, [&](const StoreReply* r) {
    called = true;
    failed = r == nullptr;
  });
  EXPECT_FALSE(called);  // never synchronously
  ASSERT_TRUE(run_until([&] { return called; }));
  EXPECT_TRUE(failed);
  EXPECT_EQ(a->counters().not_sent, 1u);
}

TEST_F(ProtocolTest, StoreRecordWireSizeIsAnUpperBound) {
  FakeNode node, other_node;
  auto a = make(node);
  StoreRecord r;
  r.key = NodeId::from_key("k");
  r.kind = StoreRecord::Kind::kDictionary;
  for (int i = 0; i < 50; ++i) r.dictionary["sub" + std::to_string(i)] = {std::string(i, 'v'), 1};
  capnp::MallocMessageBuilder builder;
  auto items = builder.initRoot<wire::DhtStoreRequest>().initItems(1);
  items[0].setKey(capnp::Data::Reader(r.key.bytes().data(), 20));
  auto list = items[0].initDictionary(50);
  unsigned j = 0;
  for (const auto& [subkey, value] : r.dictionary) {
    list[j].setSubkey(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(subkey.data()),
                                          subkey.size()));
    list[j].setValue(capnp::Data::Reader(
        reinterpret_cast<const kj::byte*>(value.value.data()), value.value.size()));
    ++j;
  }
  EXPECT_LE(capnp::computeSerializedSizeInWords(builder) * 8, r.wire_size() + 64);
}

}  // namespace
}  // namespace hm::dht
