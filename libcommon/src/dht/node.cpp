// DhtNode: construction, serving requests, the routing table's upkeep,
// bootstrap and maintenance. Lookups are in node_get.cpp and node_store.cpp.
#include <cmath>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/base/metrics.h"
#include "hm/io/pending.h"
#include "node_impl.h"
#include "wire_codec.h"

namespace hm::dht {

namespace {

// hm_dht_lookup_seconds: how long lookups take, every node of the process.
metrics::Histogram& lookup_seconds() {
  static auto& histogram = metrics::default_registry()
                               .histogram("hm_dht_lookup_seconds",
                                          "Seconds one DHT lookup (of one or many keys) took",
                                          {}, metrics::default_seconds_buckets())
                               .only();
  return histogram;
}
constexpr uint64_t kMaintenanceMs = 1000;
constexpr size_t kMaxSkewedPeers = 1024;
constexpr const char* kStopped = "the DHT node stopped before the request finished";
}  // namespace

DhtNode::Impl::Impl(uv_loop_t* loop, DhtConfig config_in)
    : loop(loop), config(std::move(config_in)), self(config.node_id.value_or(NodeId::random())),
      routing(self, config.bucket_size, config.depth_modulo), storage_(config.storage),
      cache_(config.cache), blacklist(config.blacklist_time, config.backoff_rate),
      posted_timer(loop, [this] { run_posted(); }),
      maintenance_timer(loop, [this] { maintain(); }) {
  require(config.num_replicas >= 1, "num_replicas must be at least 1, not {}", config.num_replicas);
  if (!config.protocol.clock) config.protocol.clock = system_dht_time;
  uint64_t seed;
  std::memcpy(&seed, NodeId::random().bytes().data(), sizeof seed);
  rng.seed(seed);
  protocol = std::make_unique<DhtProtocol>(loop, self, config.listen, config.protocol, *this);
  created_at = mono();
  maintenance_timer.start(kMaintenanceMs, kMaintenanceMs);
}

DhtNode::Impl::~Impl() = default;

// ---- serving -----------------------------------------------------------------

namespace {

// Bytes of the largest value in a store item (what --dht-max-value-bytes bounds).
size_t largest_value(const StoreItemView& item) {
  switch (item.kind) {
    case StoreRecord::Kind::kRegular:
      return item.value.size();
    case StoreRecord::Kind::kSubkey:
      return item.subkey.subkey.size() + item.subkey.value.size();
    case StoreRecord::Kind::kDictionary: {
      size_t total = 0;
      for (const auto& e : item.entries) total += e.subkey.size() + e.value.size();
      return total;
    }
  }
  return 0;
}

}  // namespace

void DhtNode::Impl::handle_store(const Sender& sender, std::span<const StoreItemView> items,
                                 std::vector<uint8_t>& accepted) {
  double t = now();
  for (size_t i = 0; i < items.size(); ++i) {
    const StoreItemView& item = items[i];
    Storage& target = item.in_cache ? cache_ : storage_;
    switch (item.kind) {
      case StoreRecord::Kind::kRegular:
        accepted[i] = target.store(item.key, item.value, item.expiration, t);
        break;
      case StoreRecord::Kind::kSubkey:
        accepted[i] = target.store_subkey(item.key, item.subkey.subkey, item.subkey.value,
                                          item.subkey.expiration, t);
        break;
      case StoreRecord::Kind::kDictionary: {
        bool all = !item.entries.empty();
        for (const auto& e : item.entries) {
          all = target.store_subkey(item.key, e.subkey, e.value, e.expiration, t) && all;
        }
        accepted[i] = all;
        break;
      }
    }
    size_t bytes = largest_value(item);
    if (!accepted[i] && bytes > target.limits().max_value_bytes) {
      value_refusals.refused(
          "dht-max-value-bytes",
          [&] {
            return fmt::format("dht: refused a value of {} bytes from {} (limit {}, "
                               "--dht-max-value-bytes)",
                               bytes, sender.source.to_string(), target.limits().max_value_bytes);
          },
          [&] { return sender.source.to_string(); });
    }
  }
}

void DhtNode::Impl::handle_find(const Sender& sender, std::span<const NodeId> keys,
                                FindAnswers& answers) {
  double t = now();
  for (const NodeId& key : keys) {
    FindAnswers::Entry entry;
    const StoredValue* stored = storage_.get(key, t);
    const StoredValue* cached = cache_.get(key, t);
    entry.value = (cached != nullptr && (stored == nullptr || cached->expiration > stored->expiration))
                      ? cached
                      : stored;
    routing.nearest(key, config.bucket_size, scratch, &sender.id);
    entry.first = answers.peers.size();
    entry.count = scratch.size();
    answers.peers.insert(answers.peers.end(), scratch.begin(), scratch.end());
    answers.entries.push_back(entry);
  }
}

void DhtNode::Impl::on_peer_alive(const Sender& sender) {
  if (std::abs(sender.dht_time - now()) > config.max_clock_skew && !skewed.count(sender.id) &&
      skewed.size() < kMaxSkewedPeers) {
    skewed.insert(sender.id);
    spdlog::warn("dht: peer {} at {} has a clock {:+.1f} s off ours (more than {} s)",
                 sender.id.hex().substr(0, 12), sender.source.to_string(),
                 sender.dht_time - now(), config.max_clock_skew);
  }
  if (sender.port == 0) return;  // a client: it only asks
  PeerInfo peer{sender.id, sender.listen_address()};
  auto outcome = routing.add_or_update(peer, mono());
  if (outcome.added == RoutingTable::Added::kAdded) handoff(peer);
  if (outcome.ping) {
    // Ping-before-evict: the bucket's oldest peer must answer to stay.
    PeerInfo oldest = *outcome.ping;
    protocol->call_ping(oldest.address, [this, oldest](const PingReply* reply) {
      if (reply == nullptr) {
        note_failure(oldest);
      } else {
        note_answer(oldest, reply->sender.id);
      }
    });
  }
}

// ---- plumbing ----------------------------------------------------------------

void DhtNode::Impl::post(std::function<void()> fn) {
  posted.push_back(std::move(fn));
  if (!posted_timer.active()) posted_timer.start(0);
}

void DhtNode::Impl::run_posted() {
  std::weak_ptr<int> still = alive;
  auto batch = std::move(posted);
  posted.clear();
  for (auto& fn : batch) {
    fn();
    if (still.expired()) return;  // a callback destroyed the node
  }
}

void DhtNode::Impl::note_answer(const PeerInfo& asked, const NodeId& answered) {
  blacklist.register_success(asked.address);
  if (answered != asked.id && routing.find(asked.id) == asked.address) {
    routing.remove(asked.id);  // another node lives at that address now
  }
}

void DhtNode::Impl::note_failure(const PeerInfo& peer) {
  blacklist.register_failure(peer.address, mono());
  if (routing.find(peer.id) == peer.address) routing.remove(peer.id);
}

uint64_t DhtNode::Impl::start_traversal(std::vector<NodeId> targets, size_t beam,
                                        Traversal::ResultFn on_result, Traversal::DoneFn on_done) {
  uint64_t id = next_traversal++;
  Traversal::Options options;
  options.beam_size = beam;
  options.alpha = config.alpha;
  options.queries_per_call = std::min(config.chunk_size, config.protocol.max_find_keys);
  options.max_in_flight = std::min(config.parallel_rpc, config.alpha * targets.size());
  auto traversal = std::make_unique<Traversal>(
      self, targets, options,
      [this, id](uint32_t request, const PeerInfo& peer, std::span<const NodeId> keys) {
        send_find(id, request, peer, keys);
      },
      [this](const PeerInfo& peer) { return banned(peer); }, std::move(on_result),
      std::move(on_done));
  for (size_t i = 0; i < targets.size(); ++i) {
    routing.nearest(targets[i], beam, scratch, &self);
    traversal->add_candidates(i, scratch);
  }
  Traversal* raw = traversal.get();
  traversals.emplace(id, std::move(traversal));
  traversal_started.emplace(id, mono());
  raw->start();
  reap(id);
  return id;
}

void DhtNode::Impl::send_find(uint64_t traversal, uint32_t request, const PeerInfo& peer,
                              std::span<const NodeId> keys) {
  protocol->call_find(peer.address, keys, [this, traversal, request, peer](FindReply* reply) {
    if (reply != nullptr) {
      note_answer(peer, reply->sender.id);
    } else {
      note_failure(peer);
    }
    auto it = traversals.find(traversal);
    if (it == traversals.end()) return;  // finished already
    it->second->on_reply(request, reply);
    reap(traversal);
  });
}

void DhtNode::Impl::reap(uint64_t traversal) {
  auto it = traversals.find(traversal);
  if (it == traversals.end() || !it->second->done()) return;
  traversals.erase(it);
  auto started = traversal_started.find(traversal);
  if (started == traversal_started.end()) return;
  lookup_seconds().observe(mono() - started->second);
  traversal_started.erase(started);
}

void DhtNode::Impl::send_records(const PeerInfo& peer, std::vector<StoreRecord> records) {
  const size_t budget = config.protocol.max_datagram - 256;
  std::vector<StoreRecord> chunk;
  size_t bytes = 0;
  auto emit = [&] {
    if (chunk.empty()) return;
    protocol->call_store(peer.address, chunk, [this, peer](const StoreReply* reply) {
      if (reply != nullptr) {
        note_answer(peer, reply->sender.id);
      } else {
        note_failure(peer);
      }
    });
    chunk.clear();
    bytes = 0;
  };
  for (auto& record : records) {
    size_t size = record.wire_size();
    if (!chunk.empty() && (chunk.size() >= config.protocol.max_store_items || bytes + size > budget)) {
      emit();
    }
    bytes += size;
    chunk.push_back(std::move(record));
  }
  emit();
}

void DhtNode::Impl::handoff(const PeerInfo& newcomer) {
  if (storage_.size() == 0) return;
  double t = now();
  std::vector<StoreRecord> records;
  storage_.for_each([&](const NodeId& key, const StoredValue& value) {
    if (value.expiration < t) return;
    routing.nearest(key, config.num_replicas + 1, scratch, &self);
    std::erase_if(scratch, [&](const PeerInfo& p) { return p.id == newcomer.id; });
    if (scratch.size() > config.num_replicas) scratch.resize(config.num_replicas);
    bool send = scratch.empty() || (key.closer(newcomer.id, scratch.back().id) &&
                                    key.closer(self, scratch.front().id));
    if (send) records.push_back(StoreRecord::from_value(key, value, false));
  });
  if (!records.empty()) send_records(newcomer, std::move(records));
}

void DhtNode::Impl::maintain() {
  double t = now();
  storage_.remove_expired(t);
  cache_.remove_expired(t);
  refresh_due();
  if (config.refresh_interval > 0 && mono() - created_at > config.refresh_interval) {
    auto stale = routing.take_stale(mono() - config.refresh_interval, mono(), rng);
    if (!stale.empty()) {
      start_traversal(std::move(stale), config.bucket_size, nullptr,
                      [](size_t, std::vector<PeerInfo>) {});
    }
  }
}

// ---- bootstrap and lookups of nodes --------------------------------------------

void DhtNode::Impl::bootstrap(std::vector<io::Endpoint> peers, BootstrapDone done) {
  if (peers.empty()) {
    post([done = std::move(done)] { done(""); });
    return;
  }
  struct State {
    size_t remaining = 0, answered = 0;
    std::vector<io::Endpoint> peers;
    BootstrapDone done;
  };
  auto state = std::make_shared<State>();
  state->remaining = peers.size();
  state->peers = peers;
  state->done = std::move(done);
  for (const auto& peer : peers) {
    protocol->call_ping(peer, [this, state](const PingReply* reply) {
      if (reply != nullptr) ++state->answered;
      if (--state->remaining != 0) return;
      if (state->answered == 0) {
        std::string names;
        for (const auto& p : state->peers) names += (names.empty() ? "" : ", ") + p.to_string();
        std::string error = fmt::format(
            "none of the {} initial peers answered ({}); check the addresses, or start the "
            "first node without peers", state->peers.size(), names);
        post([state, error] { state->done(error); });
        return;
      }
      if (config.protocol.client_mode) {  // nobody looks for a client: no own-id lookup
        post([state] { state->done(""); });
        return;
      }
      find_nearest(self, config.bucket_size,
                   [state](std::vector<PeerInfo>) { state->done(""); });
    });
  }
}

void DhtNode::Impl::find_nearest(const NodeId& target, size_t k, NearestDone done) {
  auto shared_done = std::make_shared<NearestDone>(std::move(done));
  start_traversal({target}, std::max(k, config.bucket_size), nullptr,
                  [this, k, shared_done](size_t, std::vector<PeerInfo> nearest) {
                    if (nearest.size() > k) nearest.resize(k);
                    post([shared_done, nearest = std::move(nearest)]() mutable {
                      (*shared_done)(std::move(nearest));
                    });
                  });
}

// ---- DhtNode -------------------------------------------------------------------

DhtNode::DhtNode(io::EventLoop& loop, DhtConfig config)
    : impl_(std::make_unique<Impl>(loop.uv(), std::move(config))) {
  lookup_seconds();  // the series renders from the start
}

DhtNode::~DhtNode() = default;

kj::Promise<void> DhtNode::bootstrap(std::vector<io::Endpoint> peers) {
  auto made = io::Pending<void>::make(kStopped);
  impl_->bootstrap(std::move(peers), [pending = made.pending](const std::string& error) {
    if (error.empty()) {
      pending.fulfill();
    } else {
      pending.reject(error);
    }
  });
  return kj::mv(made.promise);
}

kj::Promise<std::vector<bool>> DhtNode::store(std::vector<StoreEntry> entries) {
  auto made = io::Pending<std::vector<bool>>::make(kStopped);
  impl_->store(std::move(entries), [pending = made.pending](std::vector<bool> accepted) {
    pending.fulfill(std::move(accepted));
  });
  return kj::mv(made.promise);
}

kj::Promise<DhtNode::Values> DhtNode::get(std::vector<std::string> keys, bool latest) {
  std::vector<NodeId> ids;
  ids.reserve(keys.size());
  for (const auto& key : keys) ids.push_back(NodeId::from_key(key));
  return get_by_id(std::move(ids), latest ? INFINITY : impl_->now());
}

kj::Promise<DhtNode::Values> DhtNode::get_by_id(std::vector<NodeId> ids, double sufficient) {
  auto made = io::Pending<Values>::make(kStopped);
  impl_->get_by_id(std::move(ids), sufficient,
                   [pending = made.pending](Values values) { pending.fulfill(std::move(values)); });
  return kj::mv(made.promise);
}

kj::Promise<std::optional<PingReply>> DhtNode::ping(const io::Endpoint& peer) {
  auto made = io::Pending<std::optional<PingReply>>::make(kStopped);
  auto on_reply = [impl = impl_.get(), pending = made.pending](const PingReply* reply) {
    std::optional<PingReply> copy;
    if (reply != nullptr) copy = *reply;
    impl->post([pending, copy]() mutable { pending.fulfill(std::move(copy)); });
  };
  impl_->protocol->call_ping(peer, std::move(on_reply));
  return kj::mv(made.promise);
}

kj::Promise<std::vector<PeerInfo>> DhtNode::find_nearest(const NodeId& target, size_t k) {
  auto made = io::Pending<std::vector<PeerInfo>>::make(kStopped);
  impl_->find_nearest(target, k, [pending = made.pending](std::vector<PeerInfo> nearest) {
    pending.fulfill(std::move(nearest));
  });
  return kj::mv(made.promise);
}

const NodeId& DhtNode::id() const { return impl_->self; }
io::Endpoint DhtNode::address() const { return impl_->protocol->local_endpoint(); }
double DhtNode::dht_time() const { return impl_->now(); }
bool DhtNode::is_skewed(const NodeId& peer) const { return impl_->skewed.count(peer) != 0; }
const RoutingTable& DhtNode::routing_table() const { return impl_->routing; }
const Storage& DhtNode::storage() const { return impl_->storage_; }
const Storage& DhtNode::cache() const { return impl_->cache_; }

DhtStats DhtNode::stats() const {
  DhtStats s;
  s.routing_peers = impl_->routing.size();
  s.replacements = impl_->routing.replacement_count();
  s.buckets = impl_->routing.bucket_count();
  s.stored_keys = impl_->storage_.size();
  s.cached_keys = impl_->cache_.size();
  s.blacklisted = impl_->blacklist.banned_count(impl_->mono());
  s.skewed_peers = impl_->skewed.size();
  s.lookups = impl_->traversals.size();
  s.refresh_queue = impl_->refresh_scheduled.size();
  s.protocol = impl_->protocol->counters();
  return s;
}

}  // namespace hm::dht
