// A response larger than the server's --max-message-mb: Cap'n Proto will not
// send a message over its connection's own limit, so the server refuses the
// call with a line naming the flag (instead of the client waiting for its
// timeout), and goes on serving.
#include <gtest/gtest.h>

#include <thread>

#include "hm/base/error.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_client.h"
#include "test_servers.h"

namespace hm::rpc {
namespace {

// One expert, "grow": float32[rows, 256] in, float32[rows, 256 * factor]
// out (each input row repeated `factor` times), answered on a thread of its
// own per call.
class GrowingHost : public ExpertHost {
 public:
  static constexpr int64_t kWidth = 256;
  explicit GrowingHost(int64_t factor) : factor_(factor) {}
  ~GrowingHost() override {
    for (auto& worker : workers_) worker.join();
  }

  std::vector<std::string> uids() const override { return {"grow"}; }
  std::optional<ExpertDescription> describe(std::string_view uid) const override {
    if (uid != "grow") return std::nullopt;
    ExpertDescription d;
    d.uid = "grow";
    d.expert_cls = "growing";
    d.inputs = {TensorSpec{DType::Float32, {-1, kWidth}}};
    d.outputs = {TensorSpec{DType::Float32, {-1, kWidth * factor_}}};
    d.max_batch_size = 4096;
    return d;
  }
  void submit_forward(std::string_view uid, std::vector<HostTensor> inputs, TaskDone done,
                      CallDeadline = {}) override {
    require(uid == "grow" && inputs.size() == 1, "unknown expert or inputs");
    std::lock_guard lock(mutex_);
    workers_.emplace_back([input = inputs[0], done = std::move(done), factor = factor_] {
      const int64_t rows = input.shape[0];
      auto out = HostTensor::uninitialized(DType::Float32, {rows, kWidth * factor});
      auto* data = reinterpret_cast<float*>(out.mutable_data());
      auto in = input.as<float>();
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t f = 0; f < factor; ++f) {
          std::copy_n(in.data() + r * kWidth, kWidth, data + (r * factor + f) * kWidth);
        }
      }
      done(TaskOutcome{{out}, ""});
    });
  }
  void submit_backward(std::string_view, std::vector<HostTensor>, TaskDone,
                       CallDeadline = {}) override {
    fail("growing experts have no backward");
  }

 private:
  int64_t factor_;
  std::mutex mutex_;
  std::vector<std::thread> workers_;
};

TEST(ResponseLimit, AResponseOverMaxMessageMbIsRefusedNamingTheFlag) {
  GrowingHost host(8);
  ServerLimits limits;
  limits.max_message_bytes = 1 << 20;
  ServerThread server(host, limits);
  io::EventLoop loop;
  auto client = wait_for(loop, ExpertClient::connect(loop, server.address()), 5, "connect");
  // 256 rows: 256 KiB in, 2 MiB out.
  HostTensor big = filled({256, GrowingHost::kWidth}, 1.0f);
  std::string error;
  try {
    wait_for(loop, client->forward("grow", {&big, 1}), 10, "forward");
  } catch (const Error& e) {
    error = e.what();
  }
  EXPECT_EQ(error, "forward outputs: a response of 2097744 bytes exceeds the limit of 1 MiB "
                   "(--max-message-mb)");
  // 16 rows: 128 KiB out, answered on the same connection.
  HostTensor small = filled({16, GrowingHost::kWidth}, 2.0f);
  auto outputs = wait_for(loop, client->forward("grow", {&small, 1}), 10, "forward");
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].shape, (std::vector<int64_t>{16, GrowingHost::kWidth * 8}));
  EXPECT_EQ(outputs[0].as<float>()[GrowingHost::kWidth * 8 + 3], 2.0f + GrowingHost::kWidth + 3);
}

}  // namespace
}  // namespace hm::rpc
