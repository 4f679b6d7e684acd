#include "hm/dht/storage.h"

#include <gtest/gtest.h>

namespace hm::dht {
namespace {

const NodeId kKey = NodeId::from_key("key");
const NodeId kOther = NodeId::from_key("other");

TEST(Storage, StoresAndExpires) {
  Storage storage;
  EXPECT_TRUE(storage.store(kKey, "value", 100, 10));
  const StoredValue* got = storage.get(kKey, 50);
  ASSERT_NE(got, nullptr);
  EXPECT_FALSE(got->is_dictionary);
  EXPECT_EQ(got->value, "value");
  EXPECT_EQ(got->expiration, 100);
  EXPECT_NE(storage.get(kKey, 100), nullptr);  // expiring exactly now still counts
  EXPECT_EQ(storage.get(kKey, 100.5), nullptr);
  EXPECT_EQ(storage.size(), 0u);
  EXPECT_EQ(storage.total_bytes(), 0u);
}

TEST(Storage, RefusesExpiredValues) {
  Storage storage;
  EXPECT_FALSE(storage.store(kKey, "late", 5, 10));
  EXPECT_EQ(storage.get(kKey, 0), nullptr);
  EXPECT_FALSE(storage.store_subkey(kKey, "s", "late", 5, 10));
}

TEST(Storage, StoreIfNewerIsStrict) {
  Storage storage;
  EXPECT_TRUE(storage.store(kKey, "first", 100, 0));
  EXPECT_FALSE(storage.store(kKey, "same time", 100, 0));
  EXPECT_FALSE(storage.store(kKey, "older", 99, 0));
  EXPECT_EQ(storage.get(kKey, 0)->value, "first");
  EXPECT_TRUE(storage.store(kKey, "newer", 101, 0));
  EXPECT_EQ(storage.get(kKey, 0)->value, "newer");
  EXPECT_EQ(storage.size(), 1u);
  // Once the old record expired, any live value is taken.
  EXPECT_TRUE(storage.store(kKey, "after expiry", 150, 120));
  EXPECT_EQ(storage.get(kKey, 120)->value, "after expiry");
}

TEST(Storage, MaxKeysEvictsEarliestExpiration) {
  Storage storage({.max_keys = 3});
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(storage.store(NodeId::from_key(std::to_string(i)), "v", 100 + i, 0));
  }
  EXPECT_TRUE(storage.store(NodeId::from_key("late"), "v", 200, 0));
  EXPECT_EQ(storage.size(), 3u);
  EXPECT_EQ(storage.get(NodeId::from_key("0"), 0), nullptr);
  EXPECT_NE(storage.get(NodeId::from_key("1"), 0), nullptr);
  // A record that would be the first evicted is refused.
  EXPECT_FALSE(storage.store(NodeId::from_key("early"), "v", 50, 0));
  EXPECT_EQ(storage.get(NodeId::from_key("early"), 0), nullptr);
  EXPECT_EQ(storage.size(), 3u);
}

TEST(Storage, ValueAndTotalBytesAreBounded) {
  Storage storage({.max_keys = 100, .max_value_bytes = 10, .max_total_bytes = 25});
  EXPECT_FALSE(storage.store(kKey, std::string(11, 'x'), 100, 0));
  EXPECT_TRUE(storage.store(kKey, std::string(10, 'x'), 100, 0));
  EXPECT_TRUE(storage.store(kOther, std::string(10, 'x'), 101, 0));
  EXPECT_TRUE(storage.store(NodeId::from_key("third"), std::string(10, 'x'), 102, 0));
  EXPECT_LE(storage.total_bytes(), 25u);
  EXPECT_EQ(storage.get(kKey, 0), nullptr);  // the earliest went
  EXPECT_EQ(storage.size(), 2u);
}

TEST(Storage, SubkeysMakeADictionaryWithTheirOwnExpirations) {
  Storage storage;
  EXPECT_TRUE(storage.store_subkey(kKey, "a", "va", 100, 0));
  EXPECT_TRUE(storage.store_subkey(kKey, "b", "vb", 50, 0));
  const StoredValue* got = storage.get(kKey, 0);
  ASSERT_NE(got, nullptr);
  ASSERT_TRUE(got->is_dictionary);
  EXPECT_EQ(got->expiration, 100);
  ASSERT_EQ(got->subkeys.size(), 2u);
  EXPECT_EQ(got->subkeys.at("b").value, "vb");
  // Per-subkey store-if-newer.
  EXPECT_FALSE(storage.store_subkey(kKey, "a", "older", 90, 0));
  EXPECT_TRUE(storage.store_subkey(kKey, "b", "vb2", 60, 0));
  EXPECT_EQ(storage.get(kKey, 0)->subkeys.at("b").value, "vb2");
  // "b" expires on its own; the dictionary lives on with "a".
  got = storage.get(kKey, 70);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->subkeys.size(), 1u);
  EXPECT_EQ(got->subkeys.count("a"), 1u);
  EXPECT_EQ(storage.get(kKey, 101), nullptr);
}

TEST(Storage, SubkeyOverRegularValueFollowsExpirations) {
  Storage storage;
  EXPECT_TRUE(storage.store(kKey, "regular", 100, 0));
  EXPECT_FALSE(storage.store_subkey(kKey, "s", "v", 100, 0));  // not newer
  EXPECT_FALSE(storage.get(kKey, 0)->is_dictionary);
  EXPECT_TRUE(storage.store_subkey(kKey, "s", "v", 101, 0));
  EXPECT_TRUE(storage.get(kKey, 0)->is_dictionary);
  // A newer regular value replaces the whole dictionary.
  EXPECT_FALSE(storage.store(kKey, "regular", 101, 0));
  EXPECT_TRUE(storage.store(kKey, "regular", 102, 0));
  EXPECT_FALSE(storage.get(kKey, 0)->is_dictionary);
}

TEST(Storage, DictionaryBytesAreBoundedAsOneRecord) {
  Storage storage({.max_keys = 10, .max_value_bytes = 60, .max_total_bytes = 1000});
  // Each entry costs subkey + value + 16 bytes.
  EXPECT_TRUE(storage.store_subkey(kKey, "a", std::string(10, 'x'), 100, 0));  // 27
  EXPECT_TRUE(storage.store_subkey(kKey, "b", std::string(10, 'x'), 100, 0));  // 54
  EXPECT_FALSE(storage.store_subkey(kKey, "c", std::string(10, 'x'), 100, 0));
  EXPECT_TRUE(storage.store_subkey(kKey, "a", std::string(5, 'x'), 101, 0));  // replaces
  EXPECT_EQ(storage.total_bytes(), 27u + 22u);
}

TEST(Storage, StoreValueAppliesADictionarySubkeyBySubkey) {
  Storage storage;
  ASSERT_TRUE(storage.store_subkey(kKey, "a", "old", 100, 0));
  StoredValue incoming;
  incoming.is_dictionary = true;
  incoming.expiration = 120;
  incoming.subkeys["a"] = {"older", 90};
  incoming.subkeys["b"] = {"new", 120};
  EXPECT_FALSE(storage.store_value(kKey, incoming, 0));  // "a" refused
  const StoredValue* got = storage.get(kKey, 0);
  EXPECT_EQ(got->subkeys.at("a").value, "old");
  EXPECT_EQ(got->subkeys.at("b").value, "new");
  EXPECT_EQ(got->expiration, 120);
}

TEST(Storage, MergeCombinesReplicas) {
  StoredValue a;
  a.is_dictionary = true;
  a.expiration = 100;
  a.subkeys["x"] = {"x1", 100};
  a.subkeys["y"] = {"y1", 50};
  StoredValue b;
  b.is_dictionary = true;
  b.expiration = 80;
  b.subkeys["y"] = {"y2", 80};
  b.subkeys["z"] = {"z2", 70};
  b.subkeys["dead"] = {"d", 5};
  EXPECT_TRUE(merge_value(a, b, 10));
  EXPECT_EQ(a.expiration, 100);
  EXPECT_EQ(a.subkeys.size(), 3u);
  EXPECT_EQ(a.subkeys.at("y").value, "y2");
  EXPECT_EQ(a.subkeys.at("z").value, "z2");
  EXPECT_FALSE(merge_value(a, b, 10));  // nothing new

  StoredValue regular;
  regular.value = "r";
  regular.expiration = 200;
  EXPECT_TRUE(merge_value(a, regular, 10));
  EXPECT_FALSE(a.is_dictionary);
  EXPECT_EQ(a.value, "r");
  StoredValue stale;
  stale.value = "s";
  stale.expiration = 150;
  EXPECT_FALSE(merge_value(a, stale, 10));
}

TEST(Storage, RemoveExpiredSweeps) {
  Storage storage;
  storage.store(kKey, "a", 10, 0);
  storage.store(kOther, "b", 20, 0);
  storage.remove_expired(15);
  EXPECT_EQ(storage.size(), 1u);
  size_t seen = 0;
  storage.for_each([&](const NodeId& key, const StoredValue& value) {
    EXPECT_EQ(key, kOther);
    EXPECT_EQ(value.value, "b");
    ++seen;
  });
  EXPECT_EQ(seen, 1u);
}

}  // namespace
}  // namespace hm::dht
