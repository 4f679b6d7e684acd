#include "hm/bench/workload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "hm/base/error.h"

namespace hm::bench {
namespace {

bool same_bytes(const HostTensor& a, const HostTensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

TEST(Schedule, SeededAndInRange) {
  auto a = expert_schedule(1, 0, 500, 4);
  ASSERT_EQ(a.size(), 500u);
  EXPECT_TRUE(std::all_of(a.begin(), a.end(), [](size_t e) { return e < 4; }));
  for (size_t e = 0; e < 4; ++e) EXPECT_NE(std::count(a.begin(), a.end(), e), 0) << e;
  EXPECT_EQ(expert_schedule(1, 0, 500, 4), a);
  EXPECT_NE(expert_schedule(1, 1, 500, 4), a);
  EXPECT_NE(expert_schedule(2, 0, 500, 4), a);
  EXPECT_THROW(expert_schedule(1, 0, 5, 0), Error);
}

TEST(Inputs, FfnIsOneGaussianBatch) {
  auto x = client_inputs("ffn", 8, 5, 3, 0);
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x[0].dtype, DType::Float32);
  EXPECT_EQ(x[0].shape, (std::vector<int64_t>{5, 8}));
  auto values = x[0].as<float>();
  double sum = 0;
  for (float v : values) sum += v * v;
  EXPECT_GT(sum / values.size(), 0.2);  // not zeros, not ones
  EXPECT_FALSE(std::all_of(values.begin(), values.end(), [](float v) { return v == 1.0f; }));
  EXPECT_TRUE(same_bytes(client_inputs("ffn", 8, 5, 3, 0)[0], x[0]));
  EXPECT_FALSE(same_bytes(client_inputs("ffn", 8, 5, 3, 1)[0], x[0]));
}

TEST(Inputs, TransformerAndDetDropoutExtras) {
  auto t = client_inputs("transformer", 16, 2, 0, 0);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].shape, (std::vector<int64_t>{2, 128, 16}));
  EXPECT_EQ(t[1].dtype, DType::Bool);
  EXPECT_EQ(t[1].shape, (std::vector<int64_t>{2, 128}));
  for (auto b : t[1].bytes) EXPECT_EQ(b, std::byte{0});

  auto d = client_inputs("det_dropout", 4, 3, 0, 0);
  ASSERT_EQ(d.size(), 2u);
  for (float v : d[1].as<float>()) EXPECT_EQ(v, 1.0f);
}

TEST(Grads, OnesShapedLikeOutputs) {
  auto g = output_grads("nop", 6, 4);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].shape, (std::vector<int64_t>{4, 6}));
  for (float v : g[0].as<float>()) EXPECT_EQ(v, 1.0f);
  auto t = output_grads("transformer", 16, 2);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].shape, (std::vector<int64_t>{2, 128, 16}));
}

}  // namespace
}  // namespace hm::bench
