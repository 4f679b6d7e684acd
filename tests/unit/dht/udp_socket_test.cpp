// The io wrappers the DHT stands on: Endpoint, UdpSocket, Timer, SignalWatcher.
#include "hm/io/udp_socket.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>

#include "hm/base/error.h"
#include "hm/io/signals.h"
#include "hm/io/uv_timer.h"
#include "loop_fixture.h"

namespace hm::io {
namespace {

using dht::testing::LoopTest;

TEST(Endpoint, ParsesAndPrints) {
  Endpoint v4 = Endpoint::parse("127.0.0.1:7000", "test");
  EXPECT_TRUE(v4.valid());
  EXPECT_EQ(v4.family(), AF_INET);
  EXPECT_EQ(v4.port(), 7000);
  EXPECT_TRUE(v4.is_loopback());
  EXPECT_EQ(v4.to_string(), "127.0.0.1:7000");
  Endpoint v6 = Endpoint::parse("[::1]:7001", "test");
  EXPECT_EQ(v6.family(), AF_INET6);
  EXPECT_EQ(v6.to_string(), "[::1]:7001");
  EXPECT_TRUE(v6.is_loopback());
  EXPECT_TRUE(Endpoint::parse("0.0.0.0:0", "test").is_any());
  EXPECT_EQ(Endpoint::parse("localhost:5", "test"), Endpoint::parse("127.0.0.1:5", "test"));
  EXPECT_EQ(v4.with_port(1).port(), 1);
  EXPECT_FALSE(v4 == v4.with_port(1));
  EXPECT_EQ(v4.hash(), Endpoint::parse("127.0.0.1:7000", "x").hash());
  EXPECT_FALSE(Endpoint().valid());
  EXPECT_EQ(Endpoint().to_string(), "?");
  uint8_t three[3] = {1, 2, 3};
  EXPECT_FALSE(Endpoint::from_ip_bytes(three, 1).valid());
  EXPECT_THROW(Endpoint::parse("127.0.0.1", "--peers"), UsageError);
  EXPECT_THROW(Endpoint::parse("no-such-host.invalid:1", "--peers"), Error);
}

class UdpSocketTest : public LoopTest {};

TEST_F(UdpSocketTest, SendsAndReceivesGatheredDatagrams) {
  UdpSocket a(loop()), b(loop());
  a.bind(Endpoint::parse("127.0.0.1:0", "test"));
  b.bind(Endpoint::parse("127.0.0.1:0", "test"));
  EXPECT_NE(a.local_endpoint().port(), 0);
  std::string got;
  Endpoint from;
  b.start([&](std::span<const std::byte> data, const Endpoint& source, bool truncated) {
    EXPECT_FALSE(truncated);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(data.data()) % 8, 0u);  // capnp needs words
    got.assign(reinterpret_cast<const char*>(data.data()), data.size());
    from = source;
  });
  std::string head = "hello ", tail = "world";
  std::span<const std::byte> parts[2] = {std::as_bytes(std::span(head)), std::as_bytes(std::span(tail))};
  ASSERT_TRUE(a.send(b.local_endpoint(), parts));
  ASSERT_TRUE(run_until([&] { return !got.empty(); }));
  EXPECT_EQ(got, "hello world");
  EXPECT_EQ(from, a.local_endpoint());
  EXPECT_EQ(a.counters().sent, 1u);
  // Too large to send: refused and counted.
  std::vector<std::byte> huge(UdpSocket::kMaxDatagram + 1);
  EXPECT_FALSE(a.send(b.local_endpoint(), huge));
  EXPECT_EQ(a.counters().send_dropped, 1u);
}

TEST_F(UdpSocketTest, BindingATakenPortFails) {
  UdpSocket a(loop()), b(loop());
  a.bind(Endpoint::parse("127.0.0.1:0", "test"));
  EXPECT_THROW(b.bind(a.local_endpoint()), Error);
}

// A dual-stack socket (bound to ::, which tests do not do) sees IPv4 peers
// as ::ffff:a.b.c.d; the Endpoint made from that is plain IPv4, so that an
// answer matches the address it was asked at.
TEST(Endpoint, MappedIpv4BecomesIpv4) {
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  mapped.sin6_port = htons(7000);
  uint8_t bytes[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  std::memcpy(&mapped.sin6_addr, bytes, 16);
  Endpoint e = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&mapped));
  EXPECT_EQ(e.family(), AF_INET);
  EXPECT_EQ(e, Endpoint::parse("127.0.0.1:7000", "test"));
}

TEST_F(UdpSocketTest, DestroyingASocketInsideItsCallbackIsSafe) {
  auto a = std::make_unique<UdpSocket>(loop());
  UdpSocket b(loop());
  a->bind(Endpoint::parse("127.0.0.1:0", "test"));
  b.bind(Endpoint::parse("127.0.0.1:0", "test"));
  int calls = 0;
  a->start([&](std::span<const std::byte>, const Endpoint&, bool) {
    ++calls;
    a.reset();
  });
  std::string x = "x";
  for (int i = 0; i < 3; ++i) b.send(a->local_endpoint(), std::as_bytes(std::span(x)));
  ASSERT_TRUE(run_until([&] { return a == nullptr; }));
  run_for(0.05);
  EXPECT_EQ(calls, 1);
}

TEST_F(UdpSocketTest, TimerFiresOnceOrRepeatsAndStops) {
  int once = 0, repeated = 0;
  Timer single(loop(), [&] { ++once; });
  Timer repeating(loop(), [&] { ++repeated; });
  single.start(1);
  repeating.start(1, 1);
  EXPECT_TRUE(repeating.active());
  ASSERT_TRUE(run_until([&] { return once == 1 && repeated >= 3; }));
  repeating.stop();
  EXPECT_FALSE(repeating.active());
  int frozen = repeated;
  run_for(0.03);
  EXPECT_EQ(once, 1);
  EXPECT_EQ(repeated, frozen);
}

TEST_F(UdpSocketTest, SignalWatcherSeesItsSignal) {
  int seen = 0;
  SignalWatcher watcher(loop(), [&](int signum) { seen = signum; });
  watcher.start(SIGUSR1);
  ::raise(SIGUSR1);
  ASSERT_TRUE(run_until([&] { return seen != 0; }));
  EXPECT_EQ(seen, SIGUSR1);
  watcher.stop();
}

}  // namespace
}  // namespace hm::io
