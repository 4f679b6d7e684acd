// hm-serve's per-expert and server metrics, counted by a real RPC server.
#include <gtest/gtest.h>

#include "hm/base/metrics.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_client.h"
#include "rpc/server_metrics.h"
#include "test_servers.h"

namespace hm::rpc {
namespace {

metrics::Registry& registry() { return metrics::default_registry(); }

double calls(const std::string& uid, const std::string& method, const std::string& outcome) {
  return registry().counter("hm_expert_calls_total", "", {"uid", "method", "outcome"})
      .with({uid, method, outcome})
      .value();
}

double errors(const std::string& uid, const std::string& method, const std::string& error) {
  return registry().counter("hm_expert_errors_total", "", {"uid", "method", "error"})
      .with({uid, method, error})
      .value();
}

double bytes(const char* name, const std::string& uid, const std::string& method) {
  return registry().counter(name, "", {"uid", "method"}).with({uid, method}).value();
}

TEST(ErrorName, NamesTheLimitOrTheKindOfError) {
  EXPECT_EQ(error_name("batch of 9 rows exceeds --max-batch-size 8"), "max-batch-size");
  EXPECT_EQ(error_name("too many calls in flight on this connection (limit 4, --max-in-flight)"),
            "max-in-flight");
  EXPECT_EQ(error_name("unknown expert 'x.1' (this server hosts 2 experts: a.0, a.1)"),
            "unknown-expert");
  EXPECT_EQ(error_name("server shutting down"), "shutting-down");
  EXPECT_EQ(error_name("deadline exceeded: the client gave up after 5 ms; dropped before "
                       "computing"),
            "deadline-exceeded");
  EXPECT_EQ(error_name("expert ffn.0.0 forward failed: bad alloc"), "expert-failed");
  EXPECT_EQ(error_name("forward inputs: tensor 0: malformed message: x"), "malformed");
  EXPECT_EQ(error_name("ffn.0.0 forward: input 0 has shape [2, 5], expected [-1, 4]"),
            "bad-input");
}

TEST(ServerMetrics, CountsCallsByOutcomeErrorsByNameAndBytes) {
  const double ok_before = calls("dbl.0", "forward", "ok");
  const double failed_before = calls("dbl.0", "forward", "error");
  const double unknown_before = errors("", "forward", "unknown-expert");
  const double rows_before = errors("dbl.0", "forward", "max-batch-size");
  const double in_before = bytes("hm_expert_received_bytes_total", "dbl.0", "forward");
  const double out_before = bytes("hm_expert_sent_bytes_total", "dbl.0", "forward");
  DoublingHost host;
  ServerThread server{host};
  io::EventLoop loop;
  auto client = wait_for(loop, ExpertClient::connect(loop, server.address()), 5, "connect");
  std::vector<HostTensor> good{filled({3, 4}, 1.0f)};
  std::vector<HostTensor> oversize{filled({9, 4}, 0.0f)};
  for (int i = 0; i < 2; ++i) wait_for(loop, client->forward("dbl.0", good), 5, "forward");
  EXPECT_THROW(wait_for(loop, client->forward("dbl.0", oversize), 5, "f"), Error);
  EXPECT_THROW(wait_for(loop, client->forward("nope.1", good), 5, "f"), Error);
  EXPECT_EQ(calls("dbl.0", "forward", "ok") - ok_before, 2);
  EXPECT_EQ(calls("dbl.0", "forward", "error") - failed_before, 1);
  EXPECT_EQ(errors("dbl.0", "forward", "max-batch-size") - rows_before, 1);
  // A uid the server does not host is counted under uid="", not as a series of its own.
  EXPECT_EQ(errors("", "forward", "unknown-expert") - unknown_before, 1);
  // Three requests of 3x4 or 9x4 floats in, two responses of 3x4 floats out.
  const double in = bytes("hm_expert_received_bytes_total", "dbl.0", "forward") - in_before;
  EXPECT_GE(in, (12 + 12 + 36) * 4);
  EXPECT_LT(in, (12 + 12 + 36) * 4 + 3 * 256);
  const double out = bytes("hm_expert_sent_bytes_total", "dbl.0", "forward") - out_before;
  EXPECT_GE(out, 2 * 12 * 4);
  EXPECT_LT(out, 2 * 12 * 4 + 2 * 256);
  const std::string text = registry().render();
  EXPECT_NE(text.find("hm_server_connections "), std::string::npos);
  EXPECT_NE(text.find("hm_server_calls_in_flight 0"), std::string::npos);
}

}  // namespace
}  // namespace hm::rpc
