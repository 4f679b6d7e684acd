// The DHT under hm::io::EventLoop (kj polling libuv's backend fd), the way
// the MoE layer runs it: calls made from kj code, chained as promises.
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

TEST(DhtUnderEventLoop, StoreAndGetFromKjCode) {
  io::EventLoop loop;
  auto a = std::make_unique<DhtNode>(loop, local_config());
  auto b = std::make_unique<DhtNode>(loop, local_config());
  // Started from kj code (a timer's continuation): the node's timers and
  // sockets must wake the bridge, and each step's promise must resolve.
  auto steps = loop.timer()
                   .afterDelay(1 * kj::MILLISECONDS)
                   .then([&] { return b->bootstrap({a->address()}); })
                   .then([&] {
                     return b->store({{"k", std::nullopt, "v", system_dht_time() + 60}});
                   })
                   .then([&](std::vector<bool> stored) {
                     EXPECT_EQ(stored, std::vector<bool>{true});
                     return a->get({"k"}, false);
                   });
  auto values = loop.wait(loop.timer().timeoutAfter(10 * kj::SECONDS, kj::mv(steps)));
  ASSERT_EQ(values.size(), 1u);
  ASSERT_TRUE(values[0].has_value());
  EXPECT_EQ(values[0]->value, "v");
  a.reset();
  b.reset();
}

}  // namespace
}  // namespace hm::dht
