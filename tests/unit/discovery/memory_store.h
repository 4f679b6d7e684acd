// An in-memory PrefixStore for beam-search tests: declarations merged into
// dictionaries the way DHT replicas merge them, and a record of every get.
#pragma once

#include <map>

#include "hm/discovery/beam_search.h"

namespace hm::discovery::test {

class MemoryStore {
 public:
  void put(const std::vector<dht::StoreEntry>& entries) {
    for (const auto& e : entries) {
      auto& value = values_[e.key];
      if (e.subkey) {
        value.is_dictionary = true;
        value.subkeys[*e.subkey] = {e.value, e.expiration};
      } else {
        value.value = e.value;
      }
      value.expiration = std::max(value.expiration, e.expiration);
    }
  }

  PrefixStore store() {
    PrefixStore s;
    s.get = [this](std::vector<std::string> keys) -> kj::Promise<PrefixStore::Values> {
      ++rounds;
      PrefixStore::Values values;
      for (const auto& key : keys) {
        gets.push_back(key);
        auto it = values_.find(key);
        values.push_back(it == values_.end() ? std::nullopt
                                             : std::optional<dht::StoredValue>(it->second));
      }
      return values;
    };
    s.store = [this](std::vector<dht::StoreEntry> entries) {
      for (const auto& e : entries) negatives.push_back(e.key);
      put(entries);
    };
    return s;
  }

  std::vector<std::string> gets;       // every key asked for
  std::vector<std::string> negatives;  // every negative entry stored
  int rounds = 0;                      // batched gets

 private:
  std::map<std::string, dht::StoredValue> values_;
};

}  // namespace hm::discovery::test
