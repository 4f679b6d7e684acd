#include "hm/rpc/client_pool.h"

#include <gtest/gtest.h>

#include <optional>

#include "hm/rpc/blocking.h"
#include "test_servers.h"

namespace hm::rpc {
namespace {

std::vector<HostTensor> one_row(float value) { return {filled({1, 4}, value)}; }

TEST(ClientPool, ReusesOneConnectionPerServer) {
  DoublingHost host;
  ServerThread a(host), b(host);
  io::EventLoop loop;
  ClientPool pool(loop);
  auto calls = kj::heapArrayBuilder<kj::Promise<std::vector<HostTensor>>>(20);
  for (int i = 0; i < 20; ++i) {
    calls.add(pool.forward(i % 2 ? a.address() : b.address(), "dbl.0", one_row(float(i))));
  }
  auto results = wait_for(loop, kj::joinPromises(calls.finish()), 10, "calls");
  ASSERT_EQ(results.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(results[i][0].as<float>()[0], 2.0f * i);
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_EQ(b.connection_count(), 1u);
}

TEST(ClientPool, ReconnectsToAServerThatCameBack) {
  DoublingHost host;
  io::EventLoop loop;
  ClientPool pool(loop);
  std::optional<ServerThread> server;
  server.emplace(host);
  HostPort address = server->address();
  EXPECT_EQ(wait_for(loop, pool.forward(address, "dbl.1", one_row(1)), 5, "f")[0].as<float>()[0],
            2.0f);
  server.reset();  // the server goes away
  EXPECT_THROW(wait_for(loop, pool.forward(address, "dbl.1", one_row(1)), 5, "f"), Error);
  server.emplace(host, ServerLimits{}, address.port);  // and comes back on its port
  float answer = 0;
  for (int attempt = 0; attempt < 50 && answer == 0; ++attempt) {
    try {
      answer = wait_for(loop, pool.forward(address, "dbl.1", one_row(3)), 5, "f")[0].as<float>()[0];
    } catch (const Error&) {
      loop.wait(loop.timer().afterDelay(20 * kj::MILLISECONDS));
    }
  }
  EXPECT_EQ(answer, 6.0f);
}

TEST(ClientPool, ConnectFailureIsReportedToEveryWaiterAndForgotten) {
  io::EventLoop loop;
  ClientPool pool(loop);
  HostPort nowhere{"127.0.0.1", 1};
  auto first = pool.info(nowhere, "x.0");
  auto second = pool.info(nowhere, "x.0");
  EXPECT_THROW(wait_for(loop, kj::mv(first), 5, "info"), Error);
  EXPECT_THROW(wait_for(loop, kj::mv(second), 5, "info"), Error);
  loop.wait(loop.timer().afterDelay(1 * kj::MILLISECONDS));
  EXPECT_EQ(pool.size(), 0u);
}

}  // namespace
}  // namespace hm::rpc
