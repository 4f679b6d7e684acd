// Tensors large enough that the client's requests and the server's
// responses refer to their bytes instead of copying them
// (can_reference_on_wire): every call must still carry its own bytes, though
// the caller lets go of its inputs as soon as the calls are made, the server
// drops its outputs once they are in the response, and the freed memory is
// then reused and scribbled over.
#include <gtest/gtest.h>

#include "hm/base/error.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_client.h"
#include "hm/tensor/wire_tensor.h"
#include "test_servers.h"

namespace hm::rpc {
namespace {

constexpr int64_t kRows = 64;
constexpr int64_t kWidth = 4096;  // float32[64, 4096]: 1 MiB per tensor

class LargeTensorRpc : public ::testing::Test {
 protected:
  ~LargeTensorRpc() noexcept override = default;  // kj::Own's may throw; the client does not

  DoublingHost host{{}, kWidth, kRows};
  ServerThread server{host};
  io::EventLoop loop;
  kj::Own<ExpertClient> client =
      wait_for(loop, ExpertClient::connect(loop, server.address()), 5, "connect");

  // Fresh buffers of the same size as the calls', filled with -1: the
  // allocator hands out what the calls freed, if anything freed it early.
  static std::vector<HostTensor> scribble() {
    std::vector<HostTensor> junk;
    for (int i = 0; i < 16; ++i) junk.push_back(filled({kRows, kWidth}, -1.0f));
    return junk;
  }

  // Output `call` of a batch whose input was filled({kRows, kWidth}, base).
  static void expect_doubled(const std::vector<HostTensor>& outputs, float base, int call) {
    ASSERT_EQ(outputs.size(), 1u) << "call " << call;
    ASSERT_EQ(outputs[0].shape, (std::vector<int64_t>{kRows, kWidth}));
    auto values = outputs[0].as<float>();
    int64_t wrong = 0;
    for (int64_t i = 0; i < kRows * kWidth; ++i) {
      wrong += values[i] != 2 * (base + static_cast<float>(i));
    }
    EXPECT_EQ(wrong, 0) << "call " << call << ": values not twice its inputs";
  }
};

TEST_F(LargeTensorRpc, ManyForwardCallsInFlightEachGetTheirOwnAnswer) {
  constexpr int kCalls = 12;
  std::vector<kj::Promise<std::vector<HostTensor>>> calls;
  for (int c = 0; c < kCalls; ++c) {
    std::vector<HostTensor> inputs{filled({kRows, kWidth}, 1000.0f * c)};
    ASSERT_TRUE(can_reference_on_wire(inputs[0]));
    calls.push_back(client->forward(c % 2 ? "dbl.1" : "dbl.0", inputs));
  }  // the inputs are gone here but for what the connection holds
  auto junk = scribble();
  for (int c = 0; c < kCalls; ++c) {
    auto outputs = wait_for(loop, kj::mv(calls[c]), 30, "forward");
    expect_doubled(outputs, 1000.0f * c, c);
  }
}

TEST_F(LargeTensorRpc, BackwardSendsTheSameTensorTwiceInOneRequest) {
  constexpr int kCalls = 6;
  std::vector<kj::Promise<std::vector<HostTensor>>> calls;
  for (int c = 0; c < kCalls; ++c) {
    HostTensor tensor = filled({kRows, kWidth}, 500.0f * c);
    // inputs and grad_outputs are one buffer: two pieces of one message
    calls.push_back(client->backward("dbl.0", {&tensor, 1}, {&tensor, 1}));
  }
  auto junk = scribble();
  for (int c = 0; c < kCalls; ++c) {
    auto grads = wait_for(loop, kj::mv(calls[c]), 30, "backward");
    expect_doubled(grads, 500.0f * c, c);
  }
}

TEST_F(LargeTensorRpc, ARequestThatCannotBeBuiltHoldsNoneOfItsTensors) {
  HostTensor input = filled({kRows, kWidth}, 1.0f);  // referenced, were the request sent
  std::weak_ptr<const void> watch = input.owner;
  // 512 MiB, one byte more than a Cap'n Proto Data field holds (never touched).
  HostTensor huge = HostTensor::uninitialized(DType::UInt8, {int64_t{1} << 29});
  std::string error;
  try {
    client->backward("dbl.0", {&input, 1}, {&huge, 1});
  } catch (const Error& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("more than a Cap'n Proto Data field holds"), std::string::npos) << error;
  input = {};
  EXPECT_TRUE(watch.expired());  // not pinned for a request that was never sent
  // The connection goes on.
  HostTensor next = filled({kRows, kWidth}, 9.0f);
  expect_doubled(wait_for(loop, client->forward("dbl.0", {&next, 1}), 30, "forward"), 9.0f, 0);
}

TEST_F(LargeTensorRpc, SmallAndMisalignedTensorsTravelAsCopies) {
  HostTensor whole = filled({kRows + 1, kWidth}, 3.0f);
  HostTensor misaligned = whole;  // one float in: not on an 8-byte boundary
  misaligned.bytes = whole.bytes.subspan(4, kRows * kWidth * 4);
  misaligned.shape = {kRows, kWidth};
  ASSERT_FALSE(can_reference_on_wire(misaligned));
  auto outputs = wait_for(loop, client->forward("dbl.0", {&misaligned, 1}), 30, "forward");
  expect_doubled(outputs, 4.0f, 0);
  HostTensor small = filled({2, kWidth}, 7.0f);  // 32 KiB
  ASSERT_FALSE(can_reference_on_wire(small));
  auto small_outputs = wait_for(loop, client->forward("dbl.0", {&small, 1}), 30, "forward");
  ASSERT_EQ(small_outputs.size(), 1u);
  EXPECT_EQ(small_outputs[0].as<float>()[kWidth + 1], 2 * (7.0f + kWidth + 1));
}

}  // namespace
}  // namespace hm::rpc
