#include "hm/dht/storage.h"

namespace hm::dht {

namespace {
// Bookkeeping charged per dictionary entry besides its bytes.
constexpr size_t kSubkeyOverhead = 16;

size_t subkey_bytes(std::string_view subkey, std::string_view value) {
  return subkey.size() + value.size() + kSubkeyOverhead;
}
}  // namespace

size_t StoredValue::bytes() const {
  if (!is_dictionary) return value.size();
  size_t total = 0;
  for (const auto& [subkey, entry] : subkeys) total += subkey_bytes(subkey, entry.value);
  return total;
}

bool merge_value(StoredValue& into, const StoredValue& from, double now) {
  if (into.is_dictionary && from.is_dictionary) {
    bool changed = false;
    for (const auto& [subkey, entry] : from.subkeys) {
      if (entry.expiration < now) continue;
      auto it = into.subkeys.find(subkey);
      if (it == into.subkeys.end()) {
        into.subkeys.emplace(subkey, entry);
        changed = true;
      } else if (entry.expiration > it->second.expiration) {
        it->second = entry;
        changed = true;
      }
    }
    if (from.expiration > into.expiration) {
      into.expiration = from.expiration;
      changed = true;
    }
    return changed;
  }
  if (from.expiration > into.expiration) {
    into = from;
    return true;
  }
  return false;
}

Storage::Storage(Limits limits) : limits_(limits) {}

Storage::Entry* Storage::live(const NodeId& key, double now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  if (it->second.value.expiration < now) {
    erase(it);
    return nullptr;
  }
  return &it->second;
}

Storage::Map::iterator Storage::insert(const NodeId& key, StoredValue value) {
  size_t bytes = value.bytes();
  double expiration = value.expiration;
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted) {
    by_expiration_.erase({it->second.value.expiration, key});
    total_bytes_ -= it->second.bytes;
  }
  it->second.value = std::move(value);
  it->second.bytes = bytes;
  total_bytes_ += bytes;
  by_expiration_.insert({expiration, key});
  return it;
}

void Storage::set_expiration(const NodeId& key, Entry& entry, double expiration) {
  by_expiration_.erase({entry.value.expiration, key});
  entry.value.expiration = expiration;
  by_expiration_.insert({expiration, key});
}

void Storage::resize(Entry& entry, size_t bytes) {
  total_bytes_ = total_bytes_ - entry.bytes + bytes;
  entry.bytes = bytes;
}

void Storage::erase(Map::iterator it) {
  by_expiration_.erase({it->second.value.expiration, it->first});
  total_bytes_ -= it->second.bytes;
  entries_.erase(it);
}

bool Storage::enforce_bounds(const NodeId& key) {
  bool kept = true;
  while (!by_expiration_.empty() &&
         (entries_.size() > limits_.max_keys || total_bytes_ > limits_.max_total_bytes)) {
    NodeId victim = by_expiration_.begin()->second;
    if (victim == key) kept = false;
    erase(entries_.find(victim));
  }
  return kept;
}

bool Storage::store(const NodeId& key, std::string_view value, double expiration, double now) {
  if (expiration < now || value.size() > limits_.max_value_bytes) return false;
  Entry* existing = live(key, now);
  if (existing != nullptr && expiration <= existing->value.expiration) return false;
  StoredValue record;
  record.expiration = expiration;
  record.value = std::string(value);
  insert(key, std::move(record));
  return enforce_bounds(key);
}

bool Storage::store_subkey(const NodeId& key, std::string_view subkey, std::string_view value,
                           double expiration, double now) {
  size_t bytes = subkey_bytes(subkey, value);
  if (expiration < now || bytes > limits_.max_value_bytes) return false;
  Entry* existing = live(key, now);
  if (existing == nullptr ||
      (!existing->value.is_dictionary && expiration > existing->value.expiration)) {
    StoredValue record;
    record.is_dictionary = true;
    record.expiration = expiration;
    record.subkeys.emplace(std::string(subkey), SubkeyValue{std::string(value), expiration});
    insert(key, std::move(record));
    return enforce_bounds(key);
  }
  if (!existing->value.is_dictionary) return false;
  Dictionary& subkeys = existing->value.subkeys;
  size_t total = existing->bytes;
  auto it = subkeys.find(subkey);
  if (it != subkeys.end()) {
    if (it->second.expiration >= now && expiration <= it->second.expiration) return false;
    total -= subkey_bytes(it->first, it->second.value);
  }
  if (total + bytes > limits_.max_value_bytes) return false;
  if (it == subkeys.end()) {
    subkeys.emplace(std::string(subkey), SubkeyValue{std::string(value), expiration});
  } else {
    it->second = SubkeyValue{std::string(value), expiration};
  }
  resize(*existing, total + bytes);
  if (expiration > existing->value.expiration) set_expiration(key, *existing, expiration);
  return enforce_bounds(key);
}

bool Storage::store_value(const NodeId& key, const StoredValue& value, double now) {
  if (!value.is_dictionary) return store(key, value.value, value.expiration, now);
  if (value.subkeys.empty()) return false;
  bool all = true;
  for (const auto& [subkey, entry] : value.subkeys) {
    all = store_subkey(key, subkey, entry.value, entry.expiration, now) && all;
  }
  return all;
}

const StoredValue* Storage::get(const NodeId& key, double now) {
  Entry* entry = live(key, now);
  if (entry == nullptr) return nullptr;
  if (entry->value.is_dictionary) {
    Dictionary& subkeys = entry->value.subkeys;
    size_t bytes = entry->bytes;
    for (auto it = subkeys.begin(); it != subkeys.end();) {
      if (it->second.expiration < now) {
        bytes -= subkey_bytes(it->first, it->second.value);
        it = subkeys.erase(it);
      } else {
        ++it;
      }
    }
    resize(*entry, bytes);
    if (subkeys.empty()) {
      erase(entries_.find(key));
      return nullptr;
    }
  }
  return &entry->value;
}

bool Storage::remove(const NodeId& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  erase(it);
  return true;
}

void Storage::remove_expired(double now) {
  while (!by_expiration_.empty() && by_expiration_.begin()->first < now) {
    erase(entries_.find(by_expiration_.begin()->second));
  }
}

}  // namespace hm::dht
