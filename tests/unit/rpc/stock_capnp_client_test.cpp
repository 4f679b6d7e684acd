// The wire promise: a client built only from schemas/*.capnp and stock
// Cap'n Proto (EzRpcClient, no hm code on the client side) can call an
// expert.
#include <gtest/gtest.h>

#include <capnp/ez-rpc.h>

#include "hm/wire/expert.capnp.h"
#include "test_servers.h"

namespace hm::rpc {
namespace {

TEST(StockCapnpClient, CallsForwardWithPlainGeneratedCode) {
  DoublingHost host;
  ServerThread server(host);
  capnp::EzRpcClient client(server.address().host, server.address().port);
  auto expert = client.getMain<wire::ExpertServer>();

  auto request = expert.forwardRequest();
  request.setUid("dbl.1");
  auto tensor = request.initInputs(1)[0];
  tensor.setDtype(wire::DType::FLOAT32);
  auto shape = tensor.initShape(2);
  shape.set(0, 1);
  shape.set(1, 4);
  float values[4] = {1.5f, -2.0f, 0.0f, 8.0f};
  tensor.setData(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(values), sizeof(values)));

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

  auto info = expert.infoRequest();
  info.setUid("dbl.0");
  auto reply = info.send().wait(client.getWaitScope());
  EXPECT_EQ(std::string(reply.getInfo().getUid().cStr()), "dbl.0");
  EXPECT_EQ(reply.getInfo().getMaxBatchSize(), 8u);
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
