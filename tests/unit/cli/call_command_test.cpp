// hm-call's flag combinations (the calls themselves: tests/e2e/serve_*).
#include "hm/cli/call_command.h"

#include <gtest/gtest.h>

#include "usage_error.h"

namespace hm::cli {
namespace {

std::string usage_error(const CallFlags& flags) {
  return hm::test::usage_error([&] { check_call_flags(flags); });
}

TEST(CallCommand, NeedsAnActionAndExactlyOneWayToTheServer) {
  CallFlags flags;
  flags.uid = "ffn.0.1";
  flags.server = "127.0.0.1:7000";
  EXPECT_EQ(usage_error(flags), "missing ACTION after the uid: info, forward or backward");
  flags.action = "info";
  EXPECT_EQ(usage_error(flags), "");
  flags.dht_peers = {"127.0.0.1:7001"};
  EXPECT_EQ(usage_error(flags), "give the expert's server with --server HOST:PORT or find it "
                                "with --dht PEER... (one of them)");
  flags.server.clear();
  EXPECT_EQ(usage_error(flags), "");
  flags.dht_peers.clear();
  EXPECT_NE(usage_error(flags), "");
}

TEST(CallCommand, ListAsksOneServer) {
  CallFlags flags;
  flags.uid = "list";
  flags.server = "127.0.0.1:7000";
  EXPECT_EQ(usage_error(flags), "");
  flags.server.clear();
  flags.dht_peers = {"127.0.0.1:7001"};
  EXPECT_EQ(usage_error(flags), "list needs --server (it asks one server for its experts)");
}

}  // namespace
}  // namespace hm::cli
