// The expert RPC server and client over real loopback TCP, against a
// torch-free ExpertHost that doubles its inputs on a worker thread.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "hm/base/error.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_client.h"
#include "hm/rpc/expert_server.h"
#include "test_servers.h"

namespace hm::rpc {
namespace {

class ExpertRpc : public ::testing::Test {
 protected:
  DoublingHost host;
  ServerThread server{host};
  io::EventLoop loop;

  kj::Own<ExpertClient> connect() {
    return wait_for(loop, ExpertClient::connect(loop, server.address()), 5, "connect");
  }
  std::string error_of(const std::function<void()>& call) {
    try {
      call();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
};

TEST_F(ExpertRpc, InfoListsSchemasAndSteps) {
  auto client = connect();
  auto info = wait_for(loop, client->info("dbl.1"), 5, "info");
  EXPECT_EQ(info.uid, "dbl.1");
  EXPECT_EQ(info.expert_cls, "doubling");
  ASSERT_EQ(info.inputs.size(), 1u);
  EXPECT_EQ(info.inputs[0], (TensorSpec{DType::Float32, {-1, 4}}));
  EXPECT_EQ(info.max_batch_size, 8u);
  auto uids = wait_for(loop, client->list(), 5, "list");
  EXPECT_EQ(uids, (std::vector<std::string>{"dbl.0", "dbl.1"}));
}

TEST_F(ExpertRpc, ForwardAndBackwardReturnComputedTensors) {
  auto client = connect();
  std::vector<HostTensor> inputs{filled({3, 4}, 1.0f)};
  auto outputs = wait_for(loop, client->forward("dbl.0", inputs), 5, "forward");
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].shape, (std::vector<int64_t>{3, 4}));
  auto values = outputs[0].as<float>();
  for (int i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(values[i], 2 * (1.0f + i));

  std::vector<HostTensor> grads{filled({3, 4}, 5.0f)};
  auto grad_inputs = wait_for(loop, client->backward("dbl.0", inputs, grads), 5, "backward");
  ASSERT_EQ(grad_inputs.size(), 1u);
  EXPECT_FLOAT_EQ(grad_inputs[0].as<float>()[11], 2 * (5.0f + 11));
  EXPECT_EQ(wait_for(loop, client->info("dbl.0"), 5, "info").steps, 1u);
}

TEST_F(ExpertRpc, ErrorsNameTheProblemAndTheServerKeepsServing) {
  auto client = connect();
  std::vector<HostTensor> good{filled({2, 4}, 0.0f)};
  std::vector<HostTensor> wrong_shape{filled({2, 5}, 0.0f)};
  std::vector<HostTensor> two{filled({2, 4}, 0.0f), filled({2, 4}, 0.0f)};
  std::vector<HostTensor> oversize{filled({9, 4}, 0.0f)};
  std::vector<HostTensor> ints{HostTensor::zeros(DType::Int64, {2, 4})};
  std::vector<HostTensor> poisoned{filled({1, 4}, -13.0f)};

  EXPECT_EQ(error_of([&] { wait_for(loop, client->info("nope.1"), 5, "info"); }),
            "unknown expert 'nope.1' (this server hosts 2 experts: dbl.0, dbl.1)");
  EXPECT_EQ(error_of([&] { wait_for(loop, client->forward("nope.1", good), 5, "f"); }),
            "unknown expert 'nope.1'");
  EXPECT_NE(error_of([&] { wait_for(loop, client->forward("dbl.0", wrong_shape), 5, "f"); })
                .find("forward inputs[0]: expected float32[*, 4], got float32[2, 5]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { wait_for(loop, client->forward("dbl.0", two), 5, "f"); })
                .find("expected 1 tensor, got 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { wait_for(loop, client->forward("dbl.0", ints), 5, "f"); })
                .find("int64"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { wait_for(loop, client->forward("dbl.0", oversize), 5, "f"); }),
            "batch of 9 rows exceeds --max-batch-size 8");
  EXPECT_EQ(error_of([&] { wait_for(loop, client->forward("dbl.0", poisoned), 5, "f"); }),
            "expert dbl forward failed: unlucky number 13");
  // Same connection, still fine.
  auto outputs = wait_for(loop, client->forward("dbl.0", good), 5, "forward");
  EXPECT_EQ(outputs.size(), 1u);
}

TEST_F(ExpertRpc, ManyConcurrentClientsEachGetTheirOwnAnswers) {
  constexpr int kClients = 16;
  constexpr int kCallsEach = 20;
  std::vector<kj::Own<ExpertClient>> clients;
  for (int c = 0; c < kClients; ++c) clients.push_back(connect());
  auto calls = kj::heapArrayBuilder<kj::Promise<void>>(kClients * kCallsEach);
  std::atomic<int> correct = 0;
  for (int c = 0; c < kClients; ++c) {
    for (int k = 0; k < kCallsEach; ++k) {
      float base = static_cast<float>(c * 1000 + k);
      std::vector<HostTensor> inputs{filled({1 + (k % 8), 4}, base)};
      calls.add(clients[c]->forward(k % 2 ? "dbl.1" : "dbl.0", inputs)
                          .then([base, &correct](std::vector<HostTensor> out) {
                            if (out.size() == 1 && out[0].as<float>()[0] == 2 * base) ++correct;
                          }));
    }
  }
  wait_for(loop, kj::joinPromises(calls.finish()).then([] {
    return 0;
  }), 30, "all calls");
  EXPECT_EQ(correct.load(), kClients * kCallsEach);
}

TEST_F(ExpertRpc, ServerShuttingDownRefusesNewCalls) {
  auto client = connect();
  host.stop();
  std::vector<HostTensor> good{filled({2, 4}, 0.0f)};
  EXPECT_EQ(error_of([&] { wait_for(loop, client->forward("dbl.0", good), 5, "f"); }),
            "server shutting down");
}

TEST_F(ExpertRpc, StopAcceptingRefusesCallsOnOpenConnections) {
  auto client = connect();
  wait_for(loop, client->list(), 5, "list");  // the server has accepted it
  server.stop_accepting();
  EXPECT_EQ(error_of([&] { wait_for(loop, client->info("dbl.0"), 5, "info"); }),
            "server shutting down");
}

TEST(ExpertRpcConnect, UnreachableServerSaysSo) {
  io::EventLoop loop;
  // Bind-then-close leaves a port that nobody listens on.
  uint16_t port;
  {
    DoublingHost host;
    ServerThread server(host);
    port = server.address().port;
  }
  std::string error;
  try {
    wait_for(loop, ExpertClient::connect(loop, {"127.0.0.1", port}), 5, "connect");
  } catch (const Error& e) {
    error = e.what();
  }
  EXPECT_NE(error.find(fmt::format("cannot connect to 127.0.0.1:{}", port)), std::string::npos)
      << error;
}

TEST(ExpertRpcConnect, ConnectionLimitClosesExtraConnections) {
  DoublingHost host;
  ServerLimits limits;
  limits.max_connections = 1;
  ServerThread server(host, limits);
  io::EventLoop loop;
  auto first = wait_for(loop, ExpertClient::connect(loop, server.address()), 5, "connect");
  EXPECT_EQ(wait_for(loop, first->list(), 5, "list").size(), 2u);
  auto second = wait_for(loop, ExpertClient::connect(loop, server.address()), 5, "connect");
  EXPECT_THROW(wait_for(loop, second->list(), 5, "list"), Error);
  EXPECT_EQ(wait_for(loop, first->list(), 5, "list").size(), 2u);
}

TEST(ExpertRpcTimeout, SlowAnswerTimesOutWithAClearMessage) {
  io::EventLoop loop;
  auto never = kj::Promise<int>(kj::NEVER_DONE);
  try {
    wait_for(loop, kj::mv(never), 0.05, "forward on x.0 at 127.0.0.1:1");
    FAIL() << "expected a timeout";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "forward on x.0 at 127.0.0.1:1: no answer within 0.05 s");
  }
}

}  // namespace
}  // namespace hm::rpc
