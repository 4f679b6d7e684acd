// The wire promise: a client built only from schemas/*.capnp and stock
// Cap'n Proto (EzRpcClient, no hm code on the client side) can call an
// expert.
#include <gtest/gtest.h>

#include <capnp/ez-rpc.h>

#include "hm/wire/expert.capnp.h"
#include "test_servers.h"

namespace hm::rpc {
namespace {

// A forward request for `uid` with one float32[1, 4] input, built with the
// generated setters only.
capnp::Request<wire::ExpertServer::ForwardParams, wire::ExpertServer::ForwardResults>
forward_request(wire::ExpertServer::Client& expert, const char* uid, const float (&values)[4]) {
  auto request = expert.forwardRequest();
  request.setUid(uid);
  auto tensor = request.initInputs(1)[0];
  tensor.setDtype(wire::DType::FLOAT32);
  auto shape = tensor.initShape(2);
  shape.set(0, 1);
  shape.set(1, 4);
  tensor.setData(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(values), sizeof(values)));
  return request;
}

TEST(StockCapnpClient, CallsForwardWithPlainGeneratedCode) {
  DoublingHost host;
  ServerThread server(host);
  capnp::EzRpcClient client(server.address().host, server.address().port);
  auto expert = client.getMain<wire::ExpertServer>();

  const float values[4] = {1.5f, -2.0f, 0.0f, 8.0f};
  auto request = forward_request(expert, "dbl.1", values);

  auto response = request.send().wait(client.getWaitScope());
  auto outputs = response.getOutputs();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].getShape().size(), 2u);
  auto data = outputs[0].getData();
  ASSERT_EQ(data.size(), sizeof(values));
  float doubled[4];
  memcpy(doubled, data.begin(), sizeof(doubled));
  EXPECT_FLOAT_EQ(doubled[0], 3.0f);
  EXPECT_FLOAT_EQ(doubled[1], -4.0f);
  EXPECT_FLOAT_EQ(doubled[3], 16.0f);
  EXPECT_TRUE(host.last_deadline().none()) << "a request without timeoutMs has no deadline";

  auto info = expert.infoRequest();
  info.setUid("dbl.0");
  auto reply = info.send().wait(client.getWaitScope());
  EXPECT_EQ(std::string(reply.getInfo().getUid().cStr()), "dbl.0");
  EXPECT_EQ(reply.getInfo().getMaxBatchSize(), 8u);
}

// A stock client may set the budget too; the server counts it from arrival.
TEST(StockCapnpClient, SetsTimeoutMsAndALateCallFailsNamingIt) {
  DoublingHost host(std::chrono::milliseconds(300));
  ServerThread server(host);
  capnp::EzRpcClient client(server.address().host, server.address().port);
  auto expert = client.getMain<wire::ExpertServer>();
  auto request = [&](uint32_t timeout_ms) {
    const float values[4] = {1, 2, 3, 4};
    auto r = forward_request(expert, "dbl.0", values);
    r.setTimeoutMs(timeout_ms);
    return r.send();
  };
  auto slow = request(0);     // holds the worker for 300 ms
  auto late = request(50);    // still queued when its 50 ms are up
  auto patient = request(20000);
  try {
    late.wait(client.getWaitScope());
    FAIL() << "expected an exception";
  } catch (const kj::Exception& e) {
    EXPECT_NE(std::string(e.getDescription().cStr())
                  .find("deadline exceeded: the client gave up after 50 ms; dropped before "
                        "computing"),
              std::string::npos)
        << e.getDescription().cStr();
  }
  EXPECT_EQ(slow.wait(client.getWaitScope()).getOutputs().size(), 1u);
  EXPECT_EQ(patient.wait(client.getWaitScope()).getOutputs().size(), 1u);
  EXPECT_EQ(host.last_deadline().budget_ms, 20000u);
  EXPECT_EQ(host.computed(), 2u);
  EXPECT_EQ(host.dropped(), 1u);
}

TEST(StockCapnpClient, ServerErrorsArriveAsRpcExceptionsWithTheMessage) {
  DoublingHost host;
  ServerThread server(host);
  capnp::EzRpcClient client(server.address().host, server.address().port);
  auto expert = client.getMain<wire::ExpertServer>();
  auto request = expert.infoRequest();
  request.setUid("nope.0");
  try {
    request.send().wait(client.getWaitScope());
    FAIL() << "expected an exception";
  } catch (const kj::Exception& e) {
    EXPECT_NE(std::string(e.getDescription().cStr()).find("unknown expert 'nope.0'"),
              std::string::npos)
        << e.getDescription().cStr();
  }
}

}  // namespace
}  // namespace hm::rpc
