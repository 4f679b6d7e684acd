#include "hm/dht/protocol.h"

#include <chrono>
#include <queue>
#include <random>
#include <unordered_map>
#include <variant>

#include <capnp/serialize.h>
#include <kj/exception.h>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/base/refusal_log.h"
#include "hm/io/uv_timer.h"
#include "rate_limiter.h"
#include "wire_codec.h"

namespace hm::dht {

ProtocolCounters& ProtocolCounters::operator+=(const ProtocolCounters& other) {
  datagrams += other.datagrams;
  requests_served += other.requests_served;
  responses += other.responses;
  requests_sent += other.requests_sent;
  resends += other.resends;
  timeouts += other.timeouts;
  oversized += other.oversized;
  truncated += other.truncated;
  malformed += other.malformed;
  unsolicited += other.unsolicited;
  wrong_address += other.wrong_address;
  rate_limited += other.rate_limited;
  not_sent += other.not_sent;
  return *this;
}

double system_dht_time() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

struct DhtProtocol::Impl {
  using Callback = std::variant<PingCallback, StoreCallback, FindCallback>;
  enum Kind : uint8_t { kPing = 0, kStore = 1, kFind = 2 };

  struct Pending {
    io::Endpoint to;
    kj::Array<capnp::word> bytes;  // empty: could not be encoded, fails at its deadline
    Callback callback;
    size_t expected = 0;  // items or keys asked
    int attempts_left = 0;
    uint64_t deadline_ms = 0;
    uint64_t sent_ns = 0;
  };
  struct Deadline {
    uint64_t at_ms, request_id;
    bool operator>(const Deadline& o) const { return at_ms > o.at_ms; }
  };

  Impl(uv_loop_t* loop, const NodeId& self, ProtocolConfig config, RequestHandler& handler)
      : loop(loop), self(self), config(std::move(config)), handler(handler), socket(loop),
        timer(loop, [this] { on_timer(); }),
        limiter(this->config.requests_per_second, this->config.request_burst) {
    uint64_t seed;
    NodeId random = NodeId::random();
    std::memcpy(&seed, random.bytes().data(), sizeof seed);
    rng.seed(seed);
    if (this->config.max_datagram > io::UdpSocket::kMaxDatagram) {
      this->config.max_datagram = io::UdpSocket::kMaxDatagram;
    }
  }

  uint16_t sender_port() const { return config.client_mode ? 0 : port; }
  double loop_seconds() const { return static_cast<double>(uv_now(loop)) / 1000.0; }

  // ---- sending --------------------------------------------------------------

  bool send_built(capnp::MessageBuilder& builder, const io::Endpoint& to) {
    codec::Framed framed;
    if (!framed.frame(builder) || framed.bytes() > config.max_datagram ||
        !socket.send(to, framed.parts())) {
      ++counters.not_sent;
      return false;
    }
    return true;
  }

  uint64_t fresh_id() {
    uint64_t id;
    do id = rng(); while (id == 0 || pending.count(id) != 0);
    return id;
  }

  template <typename Write>
  void request(const io::Endpoint& to, Callback callback, size_t expected, Write&& write) {
    uint64_t id = fresh_id();
    Pending p;
    p.to = to;
    p.callback = std::move(callback);
    p.expected = expected;
    p.attempts_left = config.retries;
    {
      codec::ScratchMessage message;
      auto root = message.root();
      codec::write_header(root, id, self, sender_port(), config.clock());
      write(root);
      if (capnp::computeSerializedSizeInWords(message.builder()) * 8 <= config.max_datagram) {
        p.bytes = capnp::messageToFlatArray(message.builder());
      }
    }
    uint64_t now = uv_now(loop);
    ++counters.requests_sent;
    if (p.bytes.size() == 0) {
      ++counters.not_sent;
      p.attempts_left = 0;
      p.deadline_ms = now;  // fails on the next timer turn, never synchronously
    } else {
      p.deadline_ms = now + timeout_ms();
      transmit(p);
    }
    deadlines.push({p.deadline_ms, id});
    pending.emplace(id, std::move(p));
    arm_timer();
  }

  uint64_t timeout_ms() const {
    return static_cast<uint64_t>(std::max(1.0, config.request_timeout * 1000.0));
  }

  void transmit(Pending& p) {
    p.sent_ns = uv_hrtime();
    auto bytes = p.bytes.asBytes();
    if (!socket.send(p.to, std::span<const std::byte>(
                               reinterpret_cast<const std::byte*>(bytes.begin()), bytes.size()))) {
      ++counters.not_sent;
    }
  }

  void arm_timer() {
    if (deadlines.empty()) {
      timer.stop();
      return;
    }
    uint64_t now = uv_now(loop);
    uint64_t at = deadlines.top().at_ms;
    if (timer.active() && armed_at == at) return;
    armed_at = at;
    timer.start(at > now ? at - now : 0);
  }

  void on_timer() {
    std::weak_ptr<int> alive = alive_token;
    armed_at = 0;
    for (;;) {
      uint64_t now = uv_now(loop);
      if (deadlines.empty() || deadlines.top().at_ms > now) break;
      Deadline due = deadlines.top();
      deadlines.pop();
      auto it = pending.find(due.request_id);
      if (it == pending.end() || it->second.deadline_ms != due.at_ms) continue;
      Pending& p = it->second;
      if (p.attempts_left > 0) {
        --p.attempts_left;
        ++counters.resends;
        p.deadline_ms = now + timeout_ms();
        deadlines.push({p.deadline_ms, due.request_id});
        transmit(p);
        continue;
      }
      Callback callback = std::move(p.callback);
      pending.erase(it);
      ++counters.timeouts;
      std::visit([](auto& fn) { fn(nullptr); }, callback);
      if (alive.expired()) return;
    }
    arm_timer();
  }

  // ---- receiving ------------------------------------------------------------

  void on_datagram(std::span<const std::byte> data, const io::Endpoint& from, bool truncated) {
    ++counters.datagrams;
    if (truncated || data.size() > config.max_datagram) {
      ++counters.oversized;
      return;
    }
    switch (codec::check_framing(data)) {
      case codec::Framing::kOk:
        break;
      case codec::Framing::kTruncated:
        ++counters.truncated;
        return;
      case codec::Framing::kMalformed:
        ++counters.malformed;
        return;
    }
    std::optional<Sender> sender;
    bool served = false;
    uint64_t answered = 0;  // request id of an accepted response
    PingReply ping_reply;
    StoreReply store_reply;
    FindReply find_reply;
    try {
      capnp::FlatArrayMessageReader reader(
          kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word*>(data.data()),
                                          data.size() / sizeof(capnp::word)),
          codec::datagram_reader_options());
      auto message = reader.getRoot<wire::DhtMessage>();
      sender = codec::read_sender(message, from);
      if (!sender || sender->id == self) {
        ++counters.malformed;
        return;
      }
      switch (message.which()) {
        case wire::DhtMessage::PING_REQUEST:
        case wire::DhtMessage::STORE_REQUEST:
        case wire::DhtMessage::FIND_REQUEST:
          if (!limiter.allow(from, loop_seconds())) {
            ++counters.rate_limited;
            rate_refusals.refused(
                "dht-max-rps",
                [&] {
                  return fmt::format("dht: refused a request from {}: over {} requests/s "
                                     "(--dht-max-rps; burst {})",
                                     from.to_string(), config.requests_per_second,
                                     config.request_burst);
                },
                [&] { return from.to_string(); });
            return;
          }
          served = serve(message, *sender);
          if (!served) {
            ++counters.malformed;
            return;
          }
          break;
        case wire::DhtMessage::PING_RESPONSE:
        case wire::DhtMessage::STORE_RESPONSE:
        case wire::DhtMessage::FIND_RESPONSE:
          answered = accept(message, from, ping_reply, store_reply, find_reply);
          if (answered == 0) return;
          break;
        default:
          ++counters.malformed;
          return;
      }
    } catch (const kj::Exception&) {
      ++counters.malformed;
      return;
    } catch (const std::exception& e) {
      spdlog::warn("dht: dropped a datagram from {}: {}", from.to_string(), e.what());
      ++counters.malformed;
      return;
    }
    std::weak_ptr<int> alive = alive_token;
    if (served) {
      ++counters.requests_served;
      handler.on_peer_alive(*sender);
      return;
    }
    auto it = pending.find(answered);
    Pending p = std::move(it->second);
    pending.erase(it);
    ++counters.responses;
    handler.on_peer_alive(*sender);
    if (alive.expired()) return;
    double rtt = static_cast<double>(uv_hrtime() - p.sent_ns) / 1e9;
    switch (p.callback.index()) {
      case kPing:
        ping_reply.sender = *sender;
        ping_reply.rtt_seconds = rtt;
        std::get<kPing>(p.callback)(&ping_reply);
        break;
      case kStore:
        store_reply.sender = *sender;
        std::get<kStore>(p.callback)(&store_reply);
        break;
      case kFind:
        find_reply.sender = *sender;
        std::get<kFind>(p.callback)(&find_reply);
        break;
    }
  }

  // Checks and decodes an answer; returns its request id, or 0 when dropped.
  uint64_t accept(wire::DhtMessage::Reader message, const io::Endpoint& from, PingReply& ping,
                  StoreReply& store, FindReply& find) {
    uint64_t id = message.getRequestId();
    auto it = pending.find(id);
    if (it == pending.end()) {
      ++counters.unsolicited;
      return 0;
    }
    Pending& p = it->second;
    if (!(p.to == from)) {
      ++counters.wrong_address;
      return 0;
    }
    bool ok = false;
    switch (message.which()) {
      case wire::DhtMessage::PING_RESPONSE:
        if (p.callback.index() == kPing) {
          ok = true;
          if (message.getPingResponse().hasYourAddress()) {
            auto peer = codec::read_peer(message.getPingResponse().getYourAddress());
            if (peer) ping.your_address = peer->address;
          }
        }
        break;
      case wire::DhtMessage::STORE_RESPONSE:
        ok = p.callback.index() == kStore &&
             codec::read_store_response(message.getStoreResponse(), p.expected, store);
        break;
      case wire::DhtMessage::FIND_RESPONSE:
        ok = p.callback.index() == kFind &&
             codec::read_find_response(message.getFindResponse(), p.expected, config.max_nearest,
                                       find);
        break;
      default:
        break;
    }
    if (!ok) {
      ++counters.malformed;
      return 0;
    }
    return id;
  }

  // Answers a request; false when it is out of shape.
  bool serve(wire::DhtMessage::Reader message, const Sender& sender) {
    codec::ScratchMessage reply;
    auto root = reply.root();
    codec::write_header(root, message.getRequestId(), self, sender_port(), config.clock());
    switch (message.which()) {
      case wire::DhtMessage::PING_REQUEST: {
        auto you = root.initPingResponse().initYourAddress();
        codec::write_peer(you, PeerInfo{sender.id, sender.source});
        break;
      }
      case wire::DhtMessage::STORE_REQUEST: {
        if (!codec::read_store_request(message.getStoreRequest(), config.max_store_items, items,
                                       entries)) {
          return false;
        }
        accepted.assign(items.size(), 0);
        handler.handle_store(sender, items, accepted);
        auto list = root.initStoreResponse().initAccepted(static_cast<unsigned>(items.size()));
        for (size_t i = 0; i < items.size(); ++i) list.set(static_cast<unsigned>(i), accepted[i]);
        break;
      }
      case wire::DhtMessage::FIND_REQUEST: {
        if (!codec::read_find_request(message.getFindRequest(), config.max_find_keys, keys)) {
          return false;
        }
        answers.entries.clear();
        answers.peers.clear();
        handler.handle_find(sender, keys, answers);
        if (answers.entries.size() != keys.size()) return false;
        size_t base = codec::find_response_base_size(answers);
        while (base > config.max_datagram) {  // a tiny max_datagram: fewer peers
          for (auto& entry : answers.entries) entry.count /= 2;
          base = codec::find_response_base_size(answers);
        }
        size_t budget = config.max_datagram - base;
        codec::write_find_response(root, answers, budget);
        if (capnp::computeSerializedSizeInWords(reply.builder()) * 8 > config.max_datagram) {
          // The estimate was short: answer without any value.
          codec::ScratchMessage bare;
          auto bare_root = bare.root();
          codec::write_header(bare_root, message.getRequestId(), self, sender_port(),
                              config.clock());
          codec::write_find_response(bare_root, answers, 0);
          send_built(bare.builder(), sender.source);
          return true;
        }
        break;
      }
      default:
        return false;
    }
    send_built(reply.builder(), sender.source);
    return true;
  }

  uv_loop_t* loop;
  NodeId self;
  ProtocolConfig config;
  RequestHandler& handler;
  io::UdpSocket socket;
  io::Timer timer;
  uint16_t port = 0;
  ProtocolCounters counters;
  std::mt19937_64 rng;
  std::unordered_map<uint64_t, Pending> pending;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines;
  uint64_t armed_at = 0;
  RateLimiter limiter;
  RefusalLog rate_refusals{"DHT requests over --dht-max-rps"};
  std::shared_ptr<int> alive_token = std::make_shared<int>(0);
  // Reused for every request served.
  std::vector<NodeId> keys;
  std::vector<StoreItemView> items;
  std::vector<SubkeyView> entries;
  std::vector<uint8_t> accepted;
  FindAnswers answers;
};

DhtProtocol::DhtProtocol(uv_loop_t* loop, const NodeId& self, const io::Endpoint& listen,
                         ProtocolConfig config, RequestHandler& handler)
    : impl_(std::make_unique<Impl>(loop, self, std::move(config), handler)) {
  impl_->socket.bind(listen);
  impl_->socket.set_receive_buffer(impl_->config.receive_buffer);
  impl_->port = impl_->socket.local_endpoint().port();
  impl_->socket.start([impl = impl_.get()](std::span<const std::byte> data,
                                           const io::Endpoint& from, bool truncated) {
    impl->on_datagram(data, from, truncated);
  });
}

DhtProtocol::~DhtProtocol() = default;

void DhtProtocol::call_ping(const io::Endpoint& to, PingCallback done) {
  impl_->request(to, std::move(done), 0, [](wire::DhtMessage::Builder m) { m.setPingRequest(); });
}

void DhtProtocol::call_store(const io::Endpoint& to, std::span<const StoreRecord> records,
                             StoreCallback done) {
  impl_->request(to, std::move(done), records.size(), [&](wire::DhtMessage::Builder m) {
    codec::write_store_request(m, records);
  });
}

void DhtProtocol::call_find(const io::Endpoint& to, std::span<const NodeId> keys,
                            FindCallback done) {
  impl_->request(to, std::move(done), keys.size(), [&](wire::DhtMessage::Builder m) {
    codec::write_find_request(m, keys);
  });
}

const NodeId& DhtProtocol::self() const { return impl_->self; }
io::Endpoint DhtProtocol::local_endpoint() const { return impl_->socket.local_endpoint(); }
const ProtocolConfig& DhtProtocol::config() const { return impl_->config; }
const ProtocolCounters& DhtProtocol::counters() const { return impl_->counters; }
size_t DhtProtocol::pending() const { return impl_->pending.size(); }

void DhtProtocol::send_raw(const io::Endpoint& to, std::span<const std::byte> bytes) {
  impl_->socket.send(to, bytes);
}

}  // namespace hm::dht
