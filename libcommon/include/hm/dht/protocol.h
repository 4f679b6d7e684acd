// DhtProtocol: the DHT's RPCs (ping, store, find) over one UDP socket, one
// Cap'n Proto DhtMessage per datagram (schemas/dht.capnp).
//
// Outgoing: call_ping / call_store / call_find send a request with a fresh
// random request id and resend it (same id) when no answer came within
// `request_timeout`, up to `retries` times. The callback runs exactly once:
// with the decoded reply, or with nullptr when the peer never answered (or
// the request could not be encoded). An answer counts only when it comes
// from the address the request went to and has the expected shape.
//
// Incoming: requests go to the RequestHandler, which fills the answer; the
// protocol encodes and sends it, then tells the handler the sender is alive.
// Requests over `requests_per_second` (token bucket per source address) are
// dropped. Any datagram that is oversized, truncated or malformed is dropped
// and counted, never a crash.
//
// Cost: receiving decodes in place from the thread's shared receive buffer
// and answers from a reused scratch segment, so serving a request allocates
// nothing in the steady state. An outgoing request keeps its encoded bytes
// until answered, for resending.
//
// Threads: everything on the loop thread. Lifetime: destroying the protocol
// closes the socket and drops pending callbacks without calling them.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hm/dht/node_id.h"
#include "hm/dht/routing_table.h"
#include "hm/dht/storage.h"
#include "hm/io/udp_socket.h"

namespace hm::dht {

// Seconds since the Unix epoch, the clock every DHT node shares.
double system_dht_time();

struct ProtocolConfig {
  size_t max_datagram = io::UdpSocket::kMaxDatagram;  // bytes, both directions
  size_t receive_buffer = 1 << 20;  // kernel socket buffer asked for (answers arrive in bursts)
  double request_timeout = 1.0;    // seconds to wait for each attempt
  int retries = 2;                 // resends after the first attempt
  double requests_per_second = 2000;  // per source address (token bucket)
  double request_burst = 4000;        // bucket capacity
  size_t max_find_keys = 64;       // keys per find request we answer
  size_t max_store_items = 64;     // items per store request, both directions
  size_t max_nearest = 20;         // peers per find result we read
  bool client_mode = false;        // send senderPort 0: others do not add us
  std::function<double()> clock = system_dht_time;
};

// The sender of a datagram, as far as the datagram says.
struct Sender {
  NodeId id;
  io::Endpoint source;  // where the datagram came from
  uint16_t port = 0;    // senderPort: 0 for a client
  double dht_time = 0;  // its clock
  // Where to reach it as a DHT node (source IP, senderPort); invalid for a client.
  io::Endpoint listen_address() const {
    return port == 0 ? io::Endpoint() : source.with_port(port);
  }
};

// One record to send in a store request.
struct StoreRecord {
  enum class Kind : uint8_t { kRegular, kSubkey, kDictionary };
  NodeId key;
  Kind kind = Kind::kRegular;
  std::string subkey;     // kSubkey
  std::string value;      // kRegular, kSubkey
  double expiration = 0;  // kRegular, kSubkey
  Dictionary dictionary;  // kDictionary
  bool in_cache = false;

  // A whole stored value as a record (regular, or a dictionary).
  static StoreRecord from_value(const NodeId& key, const StoredValue& value, bool in_cache);
  // Bytes it takes on the wire, an upper bound for packing datagrams.
  size_t wire_size() const;
};

// A store item as received: views into the datagram, valid during the call.
struct SubkeyView {
  std::string_view subkey, value;
  double expiration = 0;
};
struct StoreItemView {
  NodeId key;
  StoreRecord::Kind kind = StoreRecord::Kind::kRegular;
  bool in_cache = false;
  double expiration = 0;
  std::string_view value;               // kRegular
  SubkeyView subkey;                    // kSubkey
  std::span<const SubkeyView> entries;  // kDictionary
};

// What a find request is answered with, filled by the handler.
struct FindAnswers {
  struct Entry {
    const StoredValue* value = nullptr;  // nullptr: not found
    size_t first = 0, count = 0;         // its range in `peers`
  };
  std::vector<Entry> entries;  // one per requested key
  std::vector<PeerInfo> peers;
};

// Decoded replies.
struct PingReply {
  Sender sender;
  io::Endpoint your_address;  // how the peer sees us (invalid if unknown)
  double rtt_seconds = 0;     // of the attempt that was answered
};
struct StoreReply {
  Sender sender;
  std::vector<bool> accepted;  // one per item sent
};
struct FindResult {
  enum class Kind : uint8_t { kNotFound, kFound, kOmitted };
  Kind kind = Kind::kNotFound;
  StoredValue value;  // kFound (value.expiration set); kOmitted: expiration only
  std::vector<PeerInfo> nearest;
};
struct FindReply {
  Sender sender;
  std::vector<FindResult> results;  // one per key asked
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Fills accepted[i] (already sized) for every item.
  virtual void handle_store(const Sender& sender, std::span<const StoreItemView> items,
                            std::vector<uint8_t>& accepted) = 0;
  // Fills answers.entries (one per key) and answers.peers (both cleared).
  virtual void handle_find(const Sender& sender, std::span<const NodeId> keys,
                           FindAnswers& answers) = 0;
  // A request was served, or an answer accepted, from this sender.
  virtual void on_peer_alive(const Sender& sender) = 0;
};

struct ProtocolCounters {
  uint64_t datagrams = 0;        // received
  uint64_t requests_served = 0;
  uint64_t responses = 0;        // accepted answers to our requests
  uint64_t requests_sent = 0;    // first attempts
  uint64_t resends = 0;
  uint64_t timeouts = 0;         // requests that were never answered
  uint64_t oversized = 0;        // longer than max_datagram
  uint64_t truncated = 0;        // shorter than their own segment table says
  uint64_t malformed = 0;        // anything else that did not decode or validate
  uint64_t unsolicited = 0;      // answers to no pending request of ours
  uint64_t wrong_address = 0;    // answers from another address than asked
  uint64_t rate_limited = 0;     // requests dropped by the per-peer limit
  uint64_t not_sent = 0;         // datagrams the socket dropped, or too big to encode
  uint64_t dropped() const { return oversized + truncated + malformed + unsolicited +
                                    wrong_address + rate_limited; }
  // Adds every count of `other` (the counters of many nodes, summed).
  ProtocolCounters& operator+=(const ProtocolCounters& other);
};

class DhtProtocol {
 public:
  using PingCallback = std::function<void(const PingReply*)>;
  using StoreCallback = std::function<void(const StoreReply*)>;
  using FindCallback = std::function<void(FindReply*)>;  // the callee may move from it

  // Binds a UDP socket at `listen` (port 0: any) and starts serving.
  // Throws hm::Error when it cannot bind.
  DhtProtocol(uv_loop_t* loop, const NodeId& self, const io::Endpoint& listen,
              ProtocolConfig config, RequestHandler& handler);
  ~DhtProtocol();
  DhtProtocol(const DhtProtocol&) = delete;
  DhtProtocol& operator=(const DhtProtocol&) = delete;

  void call_ping(const io::Endpoint& to, PingCallback done);
  void call_store(const io::Endpoint& to, std::span<const StoreRecord> records, StoreCallback done);
  void call_find(const io::Endpoint& to, std::span<const NodeId> keys, FindCallback done);

  const NodeId& self() const;
  io::Endpoint local_endpoint() const;
  const ProtocolConfig& config() const;
  const ProtocolCounters& counters() const;
  size_t pending() const;
  // Test hook: send raw bytes from this node's socket.
  void send_raw(const io::Endpoint& to, std::span<const std::byte> bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hm::dht
