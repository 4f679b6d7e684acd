// The DHT under hm::io::EventLoop (kj polling libuv's backend fd), the way
// the MoE layer runs it: nodes on loop.uv(), calls made from kj code.
#include <gtest/gtest.h>

#include <kj/async.h>

#include <memory>

#include "hm/dht/node.h"
#include "hm/io/event_loop.h"

namespace hm::dht {
namespace {

DhtConfig local_config() {
  DhtConfig config;
  config.listen = io::Endpoint::parse("127.0.0.1:0", "test");
  config.protocol.request_timeout = 0.25;
  return config;
}

// Resolves when `done` is set, checking on a kj timer (bounded by `seconds`).
kj::Promise<bool> until(io::EventLoop& loop, const bool& done, double seconds) {
  if (done) return true;
  if (seconds <= 0) return false;
  return loop.timer().afterDelay(5 * kj::MILLISECONDS).then([&loop, &done, seconds] {
    return until(loop, done, seconds - 0.005);
  });
}

TEST(DhtUnderEventLoop, StoreAndGetFromKjCode) {
  io::EventLoop loop;
  auto a = std::make_unique<DhtNode>(loop.uv(), local_config());
  auto b = std::make_unique<DhtNode>(loop.uv(), local_config());
  bool joined = false;
  std::string error = "not run";
  // Started from kj code: the node's timers and sockets must wake the bridge.
  auto start = loop.timer().afterDelay(1 * kj::MILLISECONDS).then([&] {
    b->bootstrap({a->address()}, [&](const std::string& e) {
      error = e;
      joined = true;
    });
  });
  loop.wait(std::move(start));
  ASSERT_TRUE(loop.wait(until(loop, joined, 10)));
  EXPECT_EQ(error, "");

  bool stored = false, got = false;
  std::optional<StoredValue> value;
  b->store({{"k", std::nullopt, "v", system_dht_time() + 60}}, [&](std::vector<bool> ok) {
    stored = ok[0];
    a->get({"k"}, false, [&](std::vector<std::optional<StoredValue>> values) {
      value = values[0];
      got = true;
    });
  });
  ASSERT_TRUE(loop.wait(until(loop, got, 10)));
  EXPECT_TRUE(stored);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->value, "v");
  a.reset();
  b.reset();
}

}  // namespace
}  // namespace hm::dht
