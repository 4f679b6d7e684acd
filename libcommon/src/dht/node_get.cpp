// DhtNode::get: local storage and cache first, then one shared lookup per
// key; caching of what was found, and refreshing cached keys that are read.
#include <algorithm>
#include <cmath>

#include "node_impl.h"

namespace hm::dht {

namespace {

// Drops subkeys that expired by our clock; false when nothing is left.
bool prune(StoredValue& value, double now) {
  if (value.expiration < now) return false;
  if (!value.is_dictionary) return true;
  std::erase_if(value.subkeys, [&](const auto& e) { return e.second.expiration < now; });
  return !value.subkeys.empty();
}

}  // namespace

void DhtNode::Impl::complete(Waiter& waiter, const std::optional<StoredValue>& value) {
  GetBatch& batch = *waiter.batch;
  for (size_t slot : waiter.slots) batch.results[slot] = value;
  batch.remaining -= waiter.slots.size();
  if (batch.remaining == 0) {
    post([batch = waiter.batch] { batch->done(std::move(batch->results)); });
  }
}

void DhtNode::Impl::get_by_id(std::vector<NodeId> ids, double sufficient, GetDone done) {
  auto batch = std::make_shared<GetBatch>();
  batch->results.resize(ids.size());
  batch->remaining = ids.size();
  batch->done = std::move(done);
  if (ids.empty()) {
    post([batch] { batch->done({}); });
    return;
  }
  // Positions of every distinct key, in first-seen order.
  std::vector<NodeId> order;
  std::unordered_map<NodeId, std::vector<size_t>, NodeIdHash> slots;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto [it, inserted] = slots.try_emplace(ids[i]);
    if (inserted) order.push_back(ids[i]);
    it->second.push_back(i);
  }
  double t = now();
  std::vector<NodeId> to_look_up;
  for (const NodeId& id : order) {
    Waiter waiter{batch, std::move(slots[id]), sufficient};
    auto running = gets.find(id);
    if (running != gets.end()) {  // share the lookup already under way
      GetState& state = running->second;
      if (state.best && state.best->expiration >= sufficient) {
        complete(waiter, state.best);
      } else {
        state.goal = std::max(state.goal, sufficient);
        state.waiters.push_back(std::move(waiter));
      }
      continue;
    }
    const StoredValue* stored = storage_.get(id, t);
    const StoredValue* cached = cache_.get(id, t);
    bool from_cache =
        cached != nullptr && (stored == nullptr || cached->expiration > stored->expiration);
    const StoredValue* local = from_cache ? cached : stored;
    if (local != nullptr && local->expiration >= sufficient) {
      if (from_cache) schedule_refresh(id, local->expiration - config.cache_refresh_before_expiry);
      complete(waiter, *local);
      continue;
    }
    GetState state;
    state.goal = sufficient;
    if (local != nullptr) state.best = *local;
    state.waiters.push_back(std::move(waiter));
    gets.emplace(id, std::move(state));
    to_look_up.push_back(id);
  }
  if (to_look_up.empty()) return;
  auto targets = std::make_shared<std::vector<NodeId>>(to_look_up);
  start_traversal(
      std::move(to_look_up), config.bucket_size,
      [this, targets](size_t query, const PeerInfo& from, FindResult& result) {
        return on_get_result((*targets)[query], from, result);
      },
      [this, targets](size_t query, std::vector<PeerInfo> nearest) {
        on_get_done((*targets)[query], nearest);
      });
}

bool DhtNode::Impl::on_get_result(const NodeId& key, const PeerInfo& from, FindResult& result) {
  auto it = gets.find(key);
  if (it == gets.end()) return true;
  GetState& state = it->second;
  double t = now();
  if (!prune(result.value, t)) return false;
  state.holders.push_back(from.id);
  if (!state.best) {
    state.best = std::move(result.value);
    state.source = from.id;
    state.source_is_self = false;
  } else {
    double before = state.best->expiration;
    merge_value(*state.best, result.value, t);
    if (result.value.expiration > before) {
      state.source = from.id;
      state.source_is_self = false;
    }
  }
  // Waiters content with this value need not wait for the rest.
  double have = state.best->expiration;
  for (auto& waiter : state.waiters) {
    if (waiter.sufficient <= have) complete(waiter, state.best);
  }
  std::erase_if(state.waiters, [&](const Waiter& w) { return w.sufficient <= have; });
  return state.waiters.empty();
}

void DhtNode::Impl::on_get_done(const NodeId& key, const std::vector<PeerInfo>& nearest) {
  auto it = gets.find(key);
  if (it == gets.end()) return;
  GetState state = std::move(it->second);
  gets.erase(it);
  for (auto& waiter : state.waiters) complete(waiter, state.best);
  if (!state.best || state.source_is_self) return;
  double t = now();
  if (config.cache_locally) cache_.store_value(key, *state.best, t);
  size_t cached = 0;
  for (const auto& peer : nearest) {
    if (cached >= config.cache_nearest) break;
    // Only a node that lacked it: the source and the other holders have it.
    if (std::find(state.holders.begin(), state.holders.end(), peer.id) != state.holders.end()) {
      continue;
    }
    send_records(peer, {StoreRecord::from_value(key, *state.best, true)});
    ++cached;
  }
}

void DhtNode::Impl::schedule_refresh(const NodeId& key, double at) {
  if (config.cache_refresh_before_expiry <= 0) return;
  if (!refresh_scheduled.insert(key).second) return;
  refresh_queue.push({at, key});
}

void DhtNode::Impl::refresh_due() {
  double t = now();
  std::vector<NodeId> batch;
  double latest = -INFINITY;
  auto flush = [&] {
    if (batch.empty()) return;
    double sufficient = latest + config.cache_refresh_before_expiry + 1;
    get_by_id(std::move(batch), sufficient, [](std::vector<std::optional<StoredValue>>) {});
    batch.clear();
    latest = -INFINITY;
  };
  while (!refresh_queue.empty() && refresh_queue.top().first <= t) {
    NodeId key = refresh_queue.top().second;
    refresh_queue.pop();
    refresh_scheduled.erase(key);
    const StoredValue* cached = cache_.get(key, t);
    if (cached == nullptr) continue;
    latest = std::max(latest, cached->expiration);
    batch.push_back(key);
    if (batch.size() >= config.chunk_size) flush();
  }
  flush();
}

}  // namespace hm::dht
