// Private to hm_dht: DhtNode's state, shared by node.cpp (requests, routing,
// bootstrap, maintenance), node_get.cpp and node_store.cpp.
#pragma once

#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "hm/dht/blacklist.h"
#include "hm/base/refusal_log.h"
#include "hm/dht/node.h"
#include "hm/io/uv_timer.h"
#include "traversal.h"

namespace hm::dht {

struct DhtNode::Impl : RequestHandler {
  // Inside the node, operations complete through callbacks, each run by
  // post() on a later loop turn; node.cpp turns them into the public promises.
  using StoreDone = std::function<void(std::vector<bool> accepted)>;
  using GetDone = std::function<void(Values values)>;
  using BootstrapDone = std::function<void(const std::string& error)>;  // "": joined
  using NearestDone = std::function<void(std::vector<PeerInfo> nearest)>;

  Impl(uv_loop_t* loop, DhtConfig config);
  ~Impl() override;

  // ---- RequestHandler (node.cpp)
  void handle_store(const Sender& sender, std::span<const StoreItemView> items,
                    std::vector<uint8_t>& accepted) override;
  void handle_find(const Sender& sender, std::span<const NodeId> keys,
                   FindAnswers& answers) override;
  void on_peer_alive(const Sender& sender) override;

  // ---- plumbing (node.cpp)
  double now() const { return config.protocol.clock(); }  // DHT time
  double mono() const { return static_cast<double>(uv_now(loop)) / 1000.0; }
  // Runs `fn` on a later loop turn; every user callback goes through here.
  void post(std::function<void()> fn);
  void run_posted();
  bool banned(const PeerInfo& peer) const { return blacklist.banned(peer.address, mono()); }
  void note_answer(const PeerInfo& asked, const NodeId& answered);
  void note_failure(const PeerInfo& peer);
  uint64_t start_traversal(std::vector<NodeId> targets, size_t beam, Traversal::ResultFn on_result,
                           Traversal::DoneFn on_done);
  void send_find(uint64_t traversal, uint32_t request, const PeerInfo& peer,
                 std::span<const NodeId> keys);
  void reap(uint64_t traversal);
  // Sends records to a peer in as many datagrams as they need.
  void send_records(const PeerInfo& peer, std::vector<StoreRecord> records);
  void handoff(const PeerInfo& newcomer);
  void maintain();
  void bootstrap(std::vector<io::Endpoint> peers, BootstrapDone done);
  void find_nearest(const NodeId& target, size_t k, NearestDone done);

  // ---- get (node_get.cpp)
  struct GetBatch {
    std::vector<std::optional<StoredValue>> results;
    size_t remaining = 0;
    GetDone done;
  };
  struct Waiter {
    std::shared_ptr<GetBatch> batch;
    std::vector<size_t> slots;  // positions of this key in the batch
    double sufficient = 0;
  };
  struct GetState {
    double goal = 0;  // the largest `sufficient` of the waiters
    std::optional<StoredValue> best;
    NodeId source;    // who gave `best`
    bool source_is_self = true;
    std::vector<NodeId> holders;  // peers that answered with an unexpired value
    std::vector<Waiter> waiters;
  };
  void get_by_id(std::vector<NodeId> ids, double sufficient, GetDone done);
  void complete(Waiter& waiter, const std::optional<StoredValue>& value);
  bool on_get_result(const NodeId& key, const PeerInfo& from, FindResult& result);
  void on_get_done(const NodeId& key, const std::vector<PeerInfo>& nearest);
  void schedule_refresh(const NodeId& key, double at);
  void refresh_due();

  // ---- store (node_store.cpp)
  struct StoreBatch {
    std::vector<bool> results;
    size_t remaining = 0;
    StoreDone done;
  };
  struct KeyStore {
    NodeId key;
    std::vector<StoreRecord> records;
    std::vector<size_t> slots;  // the batch position of each record
    std::vector<uint8_t> ok;    // accepted by at least one replica
    std::shared_ptr<StoreBatch> batch;
    std::vector<PeerInfo> candidates;  // nearest first (ourselves included)
    size_t next = 0, in_flight = 0, responded = 0;
    bool finished = false;
  };
  struct Assignment {  // one key's records on their way to one peer
    std::shared_ptr<KeyStore> key;
    size_t chunks = 0;
    uint64_t last_chunk = 0;
    bool answered = false;
  };
  void store(std::vector<StoreEntry> entries, StoreDone done);
  void store_round(const std::shared_ptr<KeyStore>& ks);
  bool store_locally(const StoreRecord& record, Storage& target);
  void finish_key(KeyStore& ks);
  void flush_outbox();

  uv_loop_t* loop;
  DhtConfig config;
  NodeId self;
  RoutingTable routing;
  Storage storage_;
  Storage cache_;
  RefusalLog value_refusals{"DHT values over --dht-max-value-bytes"};
  Blacklist blacklist;
  std::unique_ptr<DhtProtocol> protocol;
  io::Timer posted_timer;
  io::Timer maintenance_timer;
  std::vector<std::function<void()>> posted;
  std::shared_ptr<int> alive = std::make_shared<int>(0);
  std::mt19937_64 rng;
  double created_at = 0;  // mono()

  std::unordered_map<uint64_t, std::unique_ptr<Traversal>> traversals;
  std::unordered_map<uint64_t, double> traversal_started;  // mono(), for hm_dht_lookup_seconds
  uint64_t next_traversal = 1;
  std::unordered_map<NodeId, GetState, NodeIdHash> gets;
  using Due = std::pair<double, NodeId>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> refresh_queue;
  std::unordered_set<NodeId, NodeIdHash> refresh_scheduled;
  std::unordered_map<NodeId, std::pair<PeerInfo, std::vector<std::shared_ptr<Assignment>>>,
                     NodeIdHash> outbox;
  bool outbox_scheduled = false;
  uint64_t chunk_counter = 0;
  std::unordered_set<NodeId, NodeIdHash> skewed;
  std::vector<PeerInfo> scratch;
};

}  // namespace hm::dht
