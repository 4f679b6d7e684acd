// Calls whose request message goes away while the host still holds their
// tensors: a client hanging up mid-call, the server shutting down mid-call.
// Under AddressSanitizer a request tensor that is a view into the freed
// message fails these tests: the server's tensors view the buffer the
// message was read into, which they share (shared_message_stream.h), never
// the message itself.
// The server must also keep serving the clients that stay.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_client.h"
#include "test_servers.h"

namespace hm::rpc {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kExpertDelay{150};
constexpr int kAbandonedCalls = 5;

// Runs the loop for `duration` so that queued requests go out and replies come in.
void pump(io::EventLoop& loop, milliseconds duration) {
  wait_for(loop, loop.timer().afterDelay(duration.count() * kj::MILLISECONDS).then([] {
    return 0;
  }), 5, "pause");
}

float first_output(io::EventLoop& loop, ExpertClient& client, float value) {
  std::vector<HostTensor> inputs{filled({2, 4}, value)};
  auto outputs = wait_for(loop, client.forward("dbl.0", inputs), 10, "forward");
  return outputs.at(0).as<float>()[0];
}

TEST(ExpertRpcDisconnect, ClientsHangingUpMidCallLeaveTheServerServingOthers) {
  DoublingHost host(kExpertDelay);
  ServerThread server(host);
  io::EventLoop loop;
  auto steady = wait_for(loop, ExpertClient::connect(loop, server.address()), 5, "connect");

  for (int round = 0; round < kAbandonedCalls; ++round) {
    auto leaving = wait_for(loop, ExpertClient::connect(loop, server.address()), 5, "connect");
    std::vector<HostTensor> inputs{filled({8, 4}, 100.0f * round)};
    auto abandoned = leaving->forward("dbl.1", inputs);
    pump(loop, milliseconds(20));  // the request reaches the server's queue
    abandoned = nullptr;           // then the client hangs up before the answer
    leaving = nullptr;
    // The other client is served meanwhile, behind the abandoned calls.
    EXPECT_FLOAT_EQ(first_output(loop, *steady, 1.0f + round), 2 * (1.0f + round));
  }

  // The server notices every hang-up (bounded wait) and still answers.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server.connection_count() > 1 && std::chrono::steady_clock::now() < deadline) {
    pump(loop, milliseconds(10));
  }
  EXPECT_EQ(server.connection_count(), 1u);
  EXPECT_FLOAT_EQ(first_output(loop, *steady, 7.0f), 14.0f);
}

// The server (and with it every request message) goes away while the host
// still holds a call's tensors: the host must still read valid bytes.
TEST(ExpertRpcDisconnect, ServerDestroyedWhileTheHostStillHoldsACall) {
  DoublingHost host(kExpertDelay);
  io::EventLoop loop;
  {
    ServerThread server(host);
    auto client = wait_for(loop, ExpertClient::connect(loop, server.address()), 5, "connect");
    std::vector<HostTensor> inputs{filled({8, 4}, 3.0f)};
    auto pending = client->forward("dbl.0", inputs);
    pump(loop, milliseconds(20));  // the request reaches the host's queue
  }
  host.stop();  // the host finishes the call it holds, reading its inputs
  // It computed that call from intact inputs (filled() counts up from 3:
  // 3 + 4 + ... + 34), and answering a server that is gone did not crash.
  EXPECT_EQ(host.computed(), 1u);
  EXPECT_EQ(host.input_sum(), 592.0);
}

}  // namespace
}  // namespace hm::rpc
