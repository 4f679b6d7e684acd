// A flood of DHT requests from one peer: the node drops what is over
// --dht-max-rps, logs a summary instead of a line per datagram, and keeps
// answering other peers.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/sinks/ringbuffer_sink.h>

#include <atomic>
#include <thread>

#include "hm/base/log.h"
#include "node_group_fixture.h"

namespace hm::dht {
namespace {

using testing::NodeGroupTest;
using testing::test_config;

constexpr int kFloodDatagrams = 50000;

// A plain UDP socket on 127.0.0.1, outside the loop: the flooder.
class RawSocket {
 public:
  RawSocket() : fd_(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in any{};
    any.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &any.sin_addr);
    bind(fd_, reinterpret_cast<sockaddr*>(&any), sizeof(any));
  }
  ~RawSocket() { close(fd_); }
  io::Endpoint endpoint() const {
    sockaddr_in bound{};
    socklen_t size = sizeof(bound);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &size);
    return io::Endpoint::parse("127.0.0.1:" + std::to_string(ntohs(bound.sin_port)), "test");
  }
  // One datagram if one is waiting, else empty.
  std::string receive() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 0) != 1) return {};
    char buffer[65536];
    ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, n) : std::string();
  }
  void send_to(const io::Endpoint& to, const std::string& bytes) {
    sockaddr_in dest{};
    dest.sin_family = AF_INET;
    dest.sin_port = htons(to.port());
    inet_pton(AF_INET, "127.0.0.1", &dest.sin_addr);
    sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&dest), sizeof(dest));
  }

 private:
  int fd_;
};

// Captures the log lines while it lives.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() { spdlog::default_logger()->sinks().pop_back(); }
  std::string text() const {
    std::string all;
    for (const auto& line : sink_->last_formatted()) all += line;
    return all;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

class FloodTest : public NodeGroupTest {};

TEST_F(FloodTest, OnePeersFloodIsDroppedLoggedAndOthersAreServed) {
  LogCapture log;
  DhtNode& victim = add_node();
  DhtNode& attacker = add_node();
  DhtNode& honest = add_node();
  ASSERT_EQ(bootstrap(victim, {}), "");
  ASSERT_EQ(bootstrap(honest, {victim.address()}), "");

  // A valid ping request, as the attacker's node encodes it, sent to the
  // raw socket so that the flooder can replay it.
  RawSocket flooder;
  auto pinging = attacker.ping(flooder.endpoint());  // the request is what counts
  std::string ping;
  ASSERT_TRUE(run_until([&] {
    if (ping.empty()) ping = flooder.receive();
    return !ping.empty();
  }, 5));

  // Two bursts a little over a second apart: the second one's first refusal
  // logs the summary of the first.
  std::atomic<bool> flooding = true;
  const io::Endpoint target = victim.address();
  std::thread flood([&] {
    for (int i = 0; i < kFloodDatagrams; ++i) {
      if (i == kFloodDatagrams / 2) std::this_thread::sleep_for(std::chrono::milliseconds(1100));
      flooder.send_to(target, ping);
    }
    flooding = false;
  });

  // Meanwhile an honest peer stores and reads through the victim.
  int found = 0;
  double expiration = system_dht_time() + 60;
  for (int round = 0; round < 5; ++round) {
    std::string key = "honest." + std::to_string(round);
    EXPECT_EQ(store(honest, {{key, std::nullopt, "v", expiration}}), std::vector<bool>{true});
    auto got = get(honest, {key});
    found += got[0].has_value();
    run_for(0.2);
  }
  run_until([&] { return !flooding.load(); }, 20);
  flood.join();
  run_for(0.2);
  EXPECT_GE(victim.storage().size(), 5u);  // the victim took its replicas
  EXPECT_EQ(found, 5);

  auto counters = victim.stats().protocol;
  EXPECT_GT(counters.rate_limited, 1000u) << "datagrams received: " << counters.datagrams;
  auto text = log.text();
  EXPECT_NE(text.find("dht: refused a request from " + flooder.endpoint().to_string() +
                      ": over 2000 requests/s (--dht-max-rps; burst 4000)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("more DHT requests over --dht-max-rps in"), std::string::npos) << text;
  // Not a line per datagram.
  EXPECT_LT(std::count(text.begin(), text.end(), '\n') + 0, 20);
}

}  // namespace
}  // namespace hm::dht
