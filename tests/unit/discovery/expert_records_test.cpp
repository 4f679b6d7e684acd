#include "hm/discovery/expert_records.h"

#include <gtest/gtest.h>

#include <set>

#include "hm/base/error.h"

namespace hm::discovery {
namespace {

size_t distinct_records(const std::vector<dht::StoreEntry>& entries) {
  std::set<std::pair<std::string, std::string>> records;
  for (const auto& e : entries) records.insert({e.key, e.subkey.value_or("")});
  return records.size();
}

TEST(ExpertRecords, LayoutMatchesHivemind) {
  HostPort a{"10.0.0.1", 7000};
  // hivemind's test_dht_single_node counts.
  std::vector<std::string> flat{"ffn.1", "ffn.2"};
  EXPECT_EQ(distinct_records(declaration_entries(flat, a, 100)), 4u);
  std::vector<std::string> deep{"e.1.2.3", "e.1.2.5", "e.2.0"};
  EXPECT_EQ(distinct_records(declaration_entries(deep, a, 100)), 7u);

  std::vector<std::string> one{"ffn.1.2.3"};
  auto entries = declaration_entries(one, a, 100);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].key, "ffn.1.2.3");
  EXPECT_EQ(entries[0].value, "10.0.0.1:7000");
  EXPECT_FALSE(entries[0].subkey.has_value());
  EXPECT_EQ(entries[1].key, "ffn.1.2.");
  EXPECT_EQ(entries[1].subkey, "3");
  EXPECT_EQ(entries[1].value, "ffn.1.2.3 10.0.0.1:7000");
  EXPECT_EQ(entries[2].key, "ffn.1.");
  EXPECT_EQ(entries[2].subkey, "2");
  for (const auto& e : entries) EXPECT_EQ(e.expiration, 100);
}

TEST(ExpertRecords, SharedPrefixEntriesAreDeclaredOnce) {
  // ffn.1.2.3 and ffn.1.2.4 both sit under "ffn.1." subkey "2".
  std::vector<std::string> siblings{"ffn.1.2.3", "ffn.1.2.4"};
  auto entries = declaration_entries(siblings, {"10.0.0.1", 7000}, 100);
  EXPECT_EQ(entries.size(), distinct_records(entries));
  EXPECT_EQ(entries.size(), 5u);  // two uids, two "ffn.1.2." subkeys, one "ffn.1." subkey
}

TEST(ExpertRecords, RefusesInvalidUids) {
  std::vector<std::string> bad{"ffn.01"};
  EXPECT_THROW(declaration_entries(bad, {"h", 1}, 1), Error);
}

TEST(ExpertRecords, SuccessorsSkipGarbageAndNegativeEntries) {
  dht::StoredValue value;
  value.is_dictionary = true;
  value.subkeys["3"] = {"ffn.1.3 127.0.0.1:5", 10};
  value.subkeys["4"] = {"not a location", 10};
  value.subkeys["x"] = {"ffn.1.5 127.0.0.1:5", 10};
  value.subkeys["5"] = {"ffn.1.5 127.0.0.1:99999", 10};
  auto negative = negative_entry("ffn.1.", 10);
  value.subkeys[*negative.subkey] = {negative.value, 10};
  auto list = successors(value);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].first, 3);
  EXPECT_EQ(list[0].second, (ExpertLocation{"ffn.1.3", {"127.0.0.1", 5}}));
  EXPECT_TRUE(successors(dht::StoredValue{}).empty());
}

TEST(ExpertRecords, ParsesAddressesAndSuccessors) {
  EXPECT_EQ(parse_server("127.0.0.1:80"), (HostPort{"127.0.0.1", 80}));
  EXPECT_FALSE(parse_server("nope").has_value());
  EXPECT_EQ(parse_successor("a.1 [::1]:9")->server, (HostPort{"::1", 9}));
  EXPECT_FALSE(parse_successor("a.01 h:1").has_value());
  EXPECT_FALSE(parse_successor("").has_value());
}

}  // namespace
}  // namespace hm::discovery
