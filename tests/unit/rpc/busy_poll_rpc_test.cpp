// Expert calls with busy polling on (hm/io/busy_poll.h): the client's loop
// polls for each reply and the server's loop for each task's outcome. Calls
// must give the same answers, concurrent calls must not starve each other,
// and once the calls stop every loop goes back to sleep.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>

#include "hm/io/busy_poll.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_client.h"
#include "test_servers.h"

namespace hm::rpc {
namespace {

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

class BusyPollRpc : public ::testing::Test {
 protected:
  void SetUp() override { io::set_busy_poll(std::chrono::microseconds(2000)); }
  void TearDown() override { io::set_busy_poll(std::chrono::microseconds(0)); }

  DoublingHost host;
  ServerThread server{host};
  io::EventLoop loop;
};

TEST_F(BusyPollRpc, CallsAnswerAsWithoutPollingAndTheLoopsSleepAfterwards) {
  auto client = wait_for(loop, ExpertClient::connect(loop, server.address()), 5, "connect");
  for (int i = 0; i < 200; ++i) {
    std::vector<HostTensor> inputs{filled({2, 4}, static_cast<float>(i))};
    auto outputs = wait_for(loop, client->forward("dbl.0", inputs), 5, "forward");
    ASSERT_EQ(outputs.size(), 1u);
    ASSERT_FLOAT_EQ(outputs[0].as<float>()[7], 2 * (static_cast<float>(i) + 7)) << "call " << i;
  }
  EXPECT_EQ(wait_for(loop, client->info("dbl.1"), 5, "info").uid, "dbl.1");

  // Concurrent calls on one loop: each reply still arrives while polling.
  auto calls = kj::heapArrayBuilder<kj::Promise<std::vector<HostTensor>>>(16);
  std::vector<HostTensor> inputs{filled({1, 4}, 1.0f)};
  for (int i = 0; i < 16; ++i) calls.add(client->forward("dbl.1", inputs));
  auto all = wait_for(loop, kj::joinPromises(calls.finish()), 5, "16 calls");
  EXPECT_EQ(all.size(), 16u);

  // Windows of 2 ms: 300 ms after the last call, client, server loop and
  // worker all sleep.
  loop.wait(loop.timer().afterDelay(50 * kj::MILLISECONDS));
  const double before = process_cpu_seconds();
  loop.wait(loop.timer().afterDelay(300 * kj::MILLISECONDS));
  EXPECT_LT(process_cpu_seconds() - before, 0.05);
}

}  // namespace
}  // namespace hm::rpc
