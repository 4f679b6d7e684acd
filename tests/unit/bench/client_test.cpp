#include "hm/bench/client.h"

#include <gtest/gtest.h>

#include "hm/base/error.h"

namespace hm::bench {
namespace {

TEST(ClientSpec, RoundTrips) {
  ClientSpec s;
  s.server = {"127.0.0.1", 4321};
  s.index = 7;
  s.experts = 4;
  s.batches = 100;
  s.warmup = 2;
  s.batch_size = 256;
  s.hidden_dim = 64;
  s.expert_cls = "nop";
  s.backprop = false;
  s.seed = 12345678901234ULL;
  s.timeout_s = 2.5;
  s.compression = {wire::Compression::BLOCKWISE8, 1234};
  auto text = encode(s);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(decode_client_spec(text), s);
}

TEST(ClientSpec, Ipv6ServerRoundTrips) {
  ClientSpec s;
  s.server = {"::1", 7000};
  EXPECT_EQ(decode_client_spec(encode(s)).server, s.server);
}

TEST(ClientSpec, BadTextNamesTheProblem) {
  ClientSpec s;
  s.server = {"127.0.0.1", 1};
  auto good = encode(s);
  try {
    decode_client_spec("server=127.0.0.1:1;index=3");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'experts' is missing"), std::string::npos) << e.what();
  }
  auto bad = good;
  bad.replace(bad.find("batches=1"), 9, "batches=1x");
  try {
    decode_client_spec(bad);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("batches='1x'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(decode_client_spec("nonsense"), UsageError);
  auto zero = good;
  zero.replace(zero.find("experts=1"), 9, "experts=0");
  EXPECT_THROW(decode_client_spec(zero), UsageError);
}

TEST(ClientResult, RoundTrips) {
  ClientResult r;
  r.start_s = 12345.000000125;
  r.end_s = 12346.5;
  r.samples = 4096;
  r.forward_us = {10.5, 20.25, 3000.125};
  r.backward_us = {};
  auto back = decode_client_result(encode(r));
  EXPECT_NEAR(back.start_s, r.start_s, 1e-9);
  EXPECT_NEAR(back.end_s, r.end_s, 1e-9);
  EXPECT_EQ(back.samples, r.samples);
  EXPECT_EQ(back.forward_us, r.forward_us);
  EXPECT_TRUE(back.backward_us.empty());
}

TEST(ClientResult, GarbageIsAnError) {
  EXPECT_THROW(decode_client_result("start=1;end=2;samples=3;forward=1,x;backward="), Error);
  EXPECT_THROW(decode_client_result("start=1"), Error);
}

}  // namespace
}  // namespace hm::bench
