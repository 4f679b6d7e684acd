// DhtNode::store: find each key's nearest nodes, then store to num_replicas
// of them, replacing those that do not answer with the next nearest. The
// records for one peer are batched into as few datagrams as they fit in.
#include "node_impl.h"

namespace hm::dht {

void DhtNode::Impl::store(std::vector<StoreEntry> entries, StoreDone done) {
  auto batch = std::make_shared<StoreBatch>();
  batch->results.assign(entries.size(), false);
  batch->remaining = entries.size();
  batch->done = std::move(done);
  if (entries.empty()) {
    post([batch] { batch->done({}); });
    return;
  }
  std::vector<std::shared_ptr<KeyStore>> keys;
  std::unordered_map<NodeId, std::shared_ptr<KeyStore>, NodeIdHash> by_id;
  for (size_t i = 0; i < entries.size(); ++i) {
    StoreEntry& entry = entries[i];
    NodeId id = NodeId::from_key(entry.key);
    auto& ks = by_id[id];
    if (!ks) {
      ks = std::make_shared<KeyStore>();
      ks->key = id;
      ks->batch = batch;
      keys.push_back(ks);
    }
    StoreRecord record;
    record.key = id;
    record.expiration = entry.expiration;
    record.value = std::move(entry.value);
    if (entry.subkey) {
      record.kind = StoreRecord::Kind::kSubkey;
      record.subkey = std::move(*entry.subkey);
    }
    ks->records.push_back(std::move(record));
    ks->slots.push_back(i);
    ks->ok.push_back(0);
  }
  std::vector<NodeId> targets;
  for (const auto& ks : keys) targets.push_back(ks->key);
  auto shared_keys = std::make_shared<std::vector<std::shared_ptr<KeyStore>>>(std::move(keys));
  start_traversal(std::move(targets), std::max(config.bucket_size, config.num_replicas), nullptr,
                  [this, shared_keys](size_t query, std::vector<PeerInfo> nearest) {
                    const auto& ks = (*shared_keys)[query];
                    ks->candidates = std::move(nearest);
                    if (!config.protocol.client_mode) {
                      const NodeId& key = ks->key;
                      auto at = std::find_if(ks->candidates.begin(), ks->candidates.end(),
                                             [&](const PeerInfo& p) { return key.closer(self, p.id); });
                      ks->candidates.insert(at, PeerInfo{self, io::Endpoint()});
                    }
                    store_round(ks);
                  });
}

bool DhtNode::Impl::store_locally(const StoreRecord& record, Storage& target) {
  double t = now();
  switch (record.kind) {
    case StoreRecord::Kind::kRegular:
      return target.store(record.key, record.value, record.expiration, t);
    case StoreRecord::Kind::kSubkey:
      return target.store_subkey(record.key, record.subkey, record.value, record.expiration, t);
    case StoreRecord::Kind::kDictionary: {
      StoredValue value;
      value.is_dictionary = true;
      value.subkeys = record.dictionary;
      return target.store_value(record.key, value, t);
    }
  }
  return false;
}

void DhtNode::Impl::store_round(const std::shared_ptr<KeyStore>& ks) {
  while (!ks->finished && ks->responded + ks->in_flight < config.num_replicas &&
         ks->next < ks->candidates.size()) {
    const PeerInfo& peer = ks->candidates[ks->next++];
    if (peer.id == self) {
      for (size_t i = 0; i < ks->records.size(); ++i) {
        if (store_locally(ks->records[i], storage_)) ks->ok[i] = 1;
      }
      ++ks->responded;
      continue;
    }
    ++ks->in_flight;
    auto assignment = std::make_shared<Assignment>();
    assignment->key = ks;
    auto& slot = outbox[peer.id];
    slot.first = peer;
    slot.second.push_back(std::move(assignment));
    if (!outbox_scheduled) {
      outbox_scheduled = true;
      post([this] { flush_outbox(); });
    }
  }
  if (!ks->finished && ks->in_flight == 0) finish_key(*ks);
}

void DhtNode::Impl::finish_key(KeyStore& ks) {
  ks.finished = true;
  StoreBatch& batch = *ks.batch;
  double t = now();
  for (size_t i = 0; i < ks.records.size(); ++i) {
    batch.results[ks.slots[i]] = ks.ok[i] != 0;
    if (!ks.ok[i] || !config.cache_on_store) continue;
    const StoreRecord& record = ks.records[i];
    if (record.kind == StoreRecord::Kind::kRegular) {
      cache_.store(record.key, record.value, record.expiration, t);
    } else if (cache_.get(record.key, t) != nullptr) {
      store_locally(record, cache_);  // keep a cached dictionary current
    }
  }
  batch.remaining -= ks.records.size();
  if (batch.remaining == 0) {
    post([batch = ks.batch] { batch->done(std::move(batch->results)); });
  }
}

void DhtNode::Impl::flush_outbox() {
  outbox_scheduled = false;
  auto box = std::move(outbox);
  outbox.clear();
  const size_t budget = config.protocol.max_datagram - 256;
  using Ref = std::pair<std::shared_ptr<Assignment>, size_t>;  // (assignment, record)
  for (auto& [id, slot] : box) {
    const PeerInfo peer = slot.first;
    std::vector<StoreRecord> records;
    std::vector<Ref> refs;
    size_t bytes = 0;
    auto emit = [&] {
      if (records.empty()) return;
      ++chunk_counter;
      protocol->call_store(
          peer.address, records, [this, peer, refs = std::move(refs)](const StoreReply* reply) {
            if (reply != nullptr) {
              note_answer(peer, reply->sender.id);
            } else {
              note_failure(peer);
            }
            for (size_t i = 0; i < refs.size(); ++i) {
              Assignment& a = *refs[i].first;
              if (reply != nullptr) {
                a.answered = true;
                if (reply->accepted[i]) a.key->ok[refs[i].second] = 1;
              }
            }
            for (size_t i = 0; i < refs.size(); ++i) {
              if (i > 0 && refs[i].first == refs[i - 1].first) continue;  // once per assignment
              Assignment& a = *refs[i].first;
              if (--a.chunks != 0) continue;
              KeyStore& ks = *a.key;
              --ks.in_flight;
              if (a.answered) ++ks.responded;
              store_round(a.key);
            }
          });
      records.clear();
      refs.clear();
      bytes = 0;
    };
    for (auto& assignment : slot.second) {
      const KeyStore& ks = *assignment->key;
      for (size_t r = 0; r < ks.records.size(); ++r) {
        size_t size = ks.records[r].wire_size();
        if (!records.empty() &&
            (records.size() >= config.protocol.max_store_items || bytes + size > budget)) {
          emit();
        }
        if (assignment->last_chunk != chunk_counter + 1) {
          assignment->last_chunk = chunk_counter + 1;  // the chunk being filled
          ++assignment->chunks;
        }
        records.push_back(ks.records[r]);
        refs.emplace_back(assignment, r);
        bytes += size;
      }
    }
    emit();
  }
}

}  // namespace hm::dht
