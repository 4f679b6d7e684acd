// hm-dht's commands as library calls: their checks, the JSON of `get`, and
// store/get/ping against an in-process swarm (the binary itself:
// tests/e2e/dht_cli_test.sh).
#include "hm/cli/dht_command.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "hm/base/error.h"
#include "hm/dht/node_group.h"
#include "hm/io/loop_thread.h"
#include "usage_error.h"

namespace hm::cli {
namespace {

TEST(DhtCommand, RefusesBadFlagsBeforeTouchingTheNetwork) {
  DhtFlags flags;
  flags.nodes = 0;
  EXPECT_EQ(test::usage_error([&] { run_dht_nodes(flags); }),
            "--nodes must be from 1 to 16384, not 0");
  flags = {};
  flags.report_every = -1;
  EXPECT_EQ(test::usage_error([&] { run_dht_nodes(flags); }),
            "--report-every must be >= 0, not -1");
  flags = {};
  flags.listen = "nowhere";
  EXPECT_NE(test::usage_error([&] { run_dht_nodes(flags); }).find("--listen: bad address"),
            std::string::npos);
  flags = {};
  flags.key = "k";
  EXPECT_EQ(test::usage_error([&] { run_dht_get(flags); }),
            "--peers: give at least one node's address");
  flags.op_peers = {"127.0.0.1:1"};
  flags.ttl = 0;
  EXPECT_EQ(test::usage_error([&] { run_dht_store(flags); }),
            "--ttl must be a positive number of seconds, not 0");
  flags.grid = "4x0";
  flags.targets = {"ffn."};
  EXPECT_EQ(test::usage_error([&] { run_dht_experts(flags); }),
            "--grid: bad grid '4x0' (expected sizes like 4x4)");
}

TEST(DhtCommand, GetJsonOfAValueKeepsItsFieldsAndReplacesBadUtf8) {
  dht::StoredValue value;
  value.value = std::string("caf\xc3\xa9 \xff", 7);
  value.expiration = 1234.5;
  std::string line = stored_value_json("key", value);
  EXPECT_EQ(line, "{\"key\":\"key\",\"value\":\"caf\xc3\xa9 \xef\xbf\xbd\",\"expiration\":1234.5}");
}

TEST(DhtCommand, GetJsonOfADictionaryListsItsSubkeys) {
  dht::StoredValue value;
  value.is_dictionary = true;
  value.expiration = 20;
  value.subkeys["0"] = {"127.0.0.1:7000", 10};
  value.subkeys["1"] = {"127.0.0.1:7001", 20};
  auto parsed = nlohmann::json::parse(stored_value_json("ffn.", value));
  EXPECT_EQ(parsed["key"], "ffn.");
  EXPECT_EQ(parsed["expiration"], 20);
  EXPECT_EQ(parsed["subkeys"]["0"]["value"], "127.0.0.1:7000");
  EXPECT_EQ(parsed["subkeys"]["1"]["expiration"], 20);
  EXPECT_FALSE(parsed.contains("value"));
}

// Three DHT nodes on a background loop; the commands run on the test thread.
class DhtCommandSwarm : public ::testing::Test {
 protected:
  void SetUp() override {
    auto joined = net_.call<bool>([this](io::EventLoop& loop) {
      dht::DhtConfig config;
      config.listen = io::Endpoint::parse("127.0.0.1:0", "test");
      group_ = std::make_unique<dht::NodeGroup>(loop, config, 3);
      return group_->bootstrap({}, false).then([] { return true; });
    });
    ASSERT_TRUE(joined.get());
    auto address = net_.call<std::string>([this](io::EventLoop&) -> kj::Promise<std::string> {
      peer_id_ = group_->node(0).id().hex();
      return dht::reachable_address(group_->node(0).address()).to_string();
    });
    peer_ = address.get();
  }
  void TearDown() override {
    net_.call<bool>([this](io::EventLoop&) -> kj::Promise<bool> {
          group_.reset();
          return true;
        })
        .get();
  }

  // What `run(flags, out)` printed.
  template <typename Run>
  std::string output_of(Run run, const DhtFlags& flags) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::tmpfile(), &std::fclose);
    EXPECT_EQ(run(flags, out.get()), 0);
    std::rewind(out.get());
    std::string text;
    char buffer[512];
    while (size_t n = std::fread(buffer, 1, sizeof buffer, out.get())) text.append(buffer, n);
    return text;
  }

  io::LoopThread net_;
  std::unique_ptr<dht::NodeGroup> group_;
  std::string peer_, peer_id_;  // node 0's address and id
};

TEST_F(DhtCommandSwarm, StoreThenGetAValueAndADictionary) {
  DhtFlags flags;
  flags.op_peers = {peer_};
  flags.key = "greeting";
  flags.value = "hello";
  EXPECT_EQ(run_dht_store(flags), 0);
  EXPECT_EQ(output_of(run_dht_get, flags), "hello\n");

  flags.key = "grid.";
  flags.subkey = "3";
  flags.value = "127.0.0.1:7003";
  EXPECT_EQ(run_dht_store(flags), 0);
  EXPECT_EQ(output_of(run_dht_get, flags), "3\t127.0.0.1:7003\n");
  flags.json = true;
  auto parsed = nlohmann::json::parse(output_of(run_dht_get, flags));
  EXPECT_EQ(parsed["subkeys"]["3"]["value"], "127.0.0.1:7003");

  flags.key = "missing";
  try {
    run_dht_get(flags);
    ADD_FAILURE() << "a missing key was found";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "'missing' not found");
  }
}

TEST_F(DhtCommandSwarm, PingPrintsTheNodesId) {
  DhtFlags flags;
  flags.ping_address = peer_;
  std::string line = output_of(run_dht_ping, flags);
  EXPECT_TRUE(line.starts_with("id=" + peer_id_ + " rtt_ms=")) << line;
}

}  // namespace
}  // namespace hm::cli
